/**
 * createRuntime: wires the store, the tools' health, the clock and the base policy, and
 * starts runs. One runtime per process is the usual shape; runs share its breakers,
 * retry budgets and bulkheads, and its store is shared with other processes.
 */
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { timeOrderedId } from "./ids.js";
import { describeThrown, RuntimeClosedError } from "./failure.js";
import { redactText } from "./redact.js";
import { checkRuntimeOptions } from "./option-checks.js";
import type { Env, InFlight } from "./call.js";
import { systemClock, type Clock } from "./clock.js";
import { defaultPolicy, resolvePolicy, type Policy, type PolicyInput } from "./policy.js";
import { HealthRegistry } from "./resilience/tool-health.js";
import { retryBudgetDefaults, type RetryBudgetOptions } from "./resilience/retry-budget.js";
import { LiveRuns } from "./live-runs.js";
import { Run, type RunHost } from "./run.js";
import type { RunState } from "./run-state.js";
import { Approvals } from "./decide/approvals.js";
import { FreezeBoard, type FreezeOptions } from "./decide/freeze.js";
import { addTools, rollback, type RollbackReport, type RollbackWait } from "./rollback.js";
import type { Tool } from "./tool.js";
import type { FreezeRecord, RunRecord } from "./store/types.js";
import { checkVerifiers, type Verifier } from "./decide/verification.js";
import { storeOpener } from "./store/open.js";
import { createTelemetry, type AlertOptions, type TelemetryOptions } from "./telemetry/telemetry.js";
import type { Alerts } from "./telemetry/alerts.js";
import type { Monitors, MonitorOptions } from "./telemetry/monitors.js";
import type { Store } from "./store/types.js";
import { PendingWork } from "./pending-work.js";

export interface RuntimeOptions {
  /** "memory" [default], "sqlite:<path>", "postgres://…", or a Store. */
  store?: string | Store;
  /** The base policy of every run. */
  policy?: PolicyInput;
  clock?: Clock;
  /** Randomness for backoff jitter; seed it for reproducible runs [Math.random]. */
  random?: () => number;
  idempotency?: {
    /** How long a completed key replays its outcome [24 h]. */
    retentionMs?: number;
    /**
     * How often expired records are deleted from the store, once when it opens and then
     * at this interval; 0 turns sweeping off (e.g. when a scheduled job sweeps) [10 min].
     */
    sweepEveryMs?: number;
    /**
     * How long a claim outlives a process that stopped renewing it (it died, or was paused):
     * then another process may take the key over. A live call renews its claim every third
     * of this; one that finds it lost is cancelled and never reported done
     * [the tool's timeout × (attempts + 1) + backoff + 5 s].
     */
    leaseMs?: number;
  };
  /**
   * The call journal: every call of every run, in the store (a run's timeline, the charts
   * of `bulwark serve`). A call is kept `retentionMs` after it started, then deleted by the
   * sweep (`idempotency.sweepEveryMs`) [7 days].
   */
  callJournal?: { retentionMs?: number };
  retryBudget?: Partial<RetryBudgetOptions>;
  /** Spans (OpenTelemetry) and metrics (a prom-client registry). */
  telemetry?: TelemetryOptions;
  /** Where alerts go besides the store: a webhook, the log, OpenTelemetry, your own sinks. */
  alerts?: AlertOptions;
  /**
   * Drift monitors over every agent's decisions and texts, and failure-spike monitors,
   * kept in the store (see telemetry/monitors.ts); false turns them off.
   */
  monitors?: MonitorOptions | false;
  /** How often breaker states published by other processes are adopted [1_000]. */
  breakerSyncMs?: number;
  /** Errors with no caller to report to (a record that could not be written) [console.warn]. */
  onError?: (error: unknown) => void;
  /**
   * The agent's tools, by name, for rollback (compensations are functions on tools). Runs
   * add the tools they call; register them here (or with `registerTools`) so that a
   * process that did not make the calls, such as `bulwark rollback`, can undo them.
   */
  tools?: Tool[];
  /**
   * Extra paths that check a decision (`run.verifyDecision`), after the facts ledger's
   * rules, which always run: e.g. `modelVerifier({ model })` (a second model through the
   * AI SDK), or your own `{ name, verify }`.
   */
  verifiers?: Verifier[];
  /**
   * False for shadow mode: every decision is recorded (the outcome's `shadow`), none is
   * enforced; the tool is called and its result returned. Replays still replay [true].
   */
  enforce?: boolean;
}

export interface StartRunOptions {
  agent: string;
  runId?: string;
  policy?: PolicyInput;
  /** Verifiers for this run, in addition to the runtime's. */
  verifiers?: Verifier[];
  /** Shadow mode for this run (see RuntimeOptions.enforce) [the runtime's]. */
  enforce?: boolean;
}

export interface Runtime {
  startRun(options: StartRunOptions): Run;
  /** Resolves once the store is open; rejects with a clear error if it cannot be. */
  ready(): Promise<void>;
  /** The open store (after `ready`). */
  readonly store: Store;
  readonly policy: Readonly<Policy>;
  /** The approval queue: list, approve, deny (shared with every process on the store). */
  readonly approvals: Approvals;
  /** Alerts (breaker opened, run halted or handed off, drift, failure spikes): list, acknowledge, sinks' status. */
  readonly alerts: Alerts;
  /** The drift and failure-spike monitors (undefined with `monitors: false`): `list()`, `flush()`. */
  readonly monitors: Monitors | undefined;
  /**
   * Declare a freeze now, for every run of every process on the store: write and
   * destructive calls are refused as `frozen` until it is lifted or its `to` passes;
   * reads go on. `options.from`/`to` make it a window.
   */
  freeze(reason?: string, options?: FreezeOptions): Promise<FreezeRecord>;
  /** Lift one declared freeze by id, or all of them; returns how many were lifted. */
  unfreeze(id?: string): Promise<number>;
  /** The declared freezes (not those in policies). */
  freezes(): Promise<FreezeRecord[]>;
  /**
   * Stop a run, in this process or another: a run here stops at once (calls in flight
   * are cancelled through their signal); a run elsewhere before its next call. False when
   * no such run is known here or in the store.
   */
  stopRun(runId: string, reason: string): Promise<boolean>;
  /**
   * A person reviewed the changes a run made: the review is recorded in the run, and its
   * destructive budget is renewed (a run that was reading only because its budget was spent
   * may make changes again). Works on a run of any process; rejects for an unknown run.
   */
  reviewRun(runId: string, review: { by: string; note?: string }): Promise<RunRecord>;
  /** Add tools to the registry that rollback finds compensations in. */
  registerTools(...tools: Tool[]): void;
  /**
   * Undo a run's recorded mutations, newest first, each compensation at most once, with
   * the registered tools (plus `tools`). Stops the run in the store first (no new call of
   * it executes anywhere), then waits up to `waitMs` for its calls in flight in any process
   * to settle, so that their changes are undone too; those still in flight then are
   * reported in `inFlight` (see rollback.ts).
   */
  rollback(runId: string, tools?: Tool[], options?: RollbackWait): Promise<RollbackReport>;
  /**
   * Stop taking calls, cancel the calls in flight (their `ctx.signal` is aborted, waits and
   * backoffs end; each ends as `runtime_closed`, an effect that may have landed kept
   * unsettled), wait for them to be recorded (not for executions that ignore their signal),
   * close the store. The runs are not ended: they may be resumed by id.
   */
  close(): Promise<void>;
}

const DAY = 24 * 60 * 60 * 1000;

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const policy = resolvePolicy(defaultPolicy, options.policy);
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? ((e: unknown) => console.warn("bulwark:", redactText(e instanceof Error ? (e.stack ?? e.message) : describeThrown(e))));
  checkRuntimeOptions(options);
  const retentionMs = options.idempotency?.retentionMs ?? DAY;
  const sweepEveryMs = options.idempotency?.sweepEveryMs ?? 10 * 60 * 1000;
  const journalRetentionMs = options.callJournal?.retentionMs ?? 7 * DAY;
  const budget = { ...retryBudgetDefaults, ...options.retryBudget };
  const runtimeVerifiers = checkVerifiers(options.verifiers ?? [], "createRuntime");
  checkEnforce(options.enforce, "createRuntime");

  let store: Store | undefined;
  let health: HealthRegistry | undefined;
  let env: Env | undefined;
  let freezes: FreezeBoard | undefined;
  const tools = new Map<string, Tool>();
  addTools(tools, options.tools ?? []);
  const live = new LiveRuns<Run>();
  const inFlight: InFlight = new Map();
  const unsaved = new Set<RunState>();
  // A malformed store description throws here; an unreachable database rejects ready().
  const open = storeOpener(options.store ?? "memory");
  const telemetry = createTelemetry(options.telemetry ?? {}, options.alerts ?? {}, options.monitors ?? {}, {
    store: async () => {
      await opening;
      return store!;
    },
    clock,
    newId: () => timeOrderedId(),
    onError,
    random: options.random ?? Math.random,
  });
  const opening = open().then((s) => {
    store = s;
    health = new HealthRegistry(clock, budget, s.breakers, onError, (tool, state, reason) => telemetry.breakerChanged(tool, state, reason));
    health.startSync(options.breakerSyncMs ?? 1_000);
    freezes = new FreezeBoard(s, clock);
    env = { clock, store: s, health, random: options.random ?? Math.random, retentionMs, onError, newId: timeOrderedId, inFlight, freezes, tools, ...(options.idempotency?.leaseMs !== undefined ? { leaseMs: options.idempotency.leaseMs } : {}) };
    if (sweepEveryMs > 0 && !closed) {
      // Expired idempotency records and old journal entries would otherwise pile up forever.
      // Unref'd: it never keeps the process alive; tracked: close waits for a sweep under way.
      const sweep = () => {
        void host.track(s.idempotency.sweep(clock.now())).catch(onError);
        if (s.callJournal) void host.track(s.callJournal.sweep(clock.now() - journalRetentionMs)).catch(onError);
      };
      sweeper = setInterval(sweep, sweepEveryMs);
      sweeper.unref();
      sweep();
    }
  });
  // The rejection is reported by ready() and by every call; not an unhandled rejection.
  opening.catch(() => {});

  const tracked = new PendingWork();
  let closed = false;
  const closing = new AbortController();
  // Every escalation call in flight listens to it (see the idempotency stage's lease).
  setMaxListeners(0, closing.signal);
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const host: RunHost = {
    get env() {
      if (!env) throw new Error("the runtime's store is not open yet: await rt.ready()");
      return env;
    },
    tools,
    live,
    unsaved,
    telemetry,
    newId: () => timeOrderedId(),
    track: (work, also) => tracked.track(work, also),
    ready: () => (env ? Promise.resolve() : opening),
    onError,
    closing: closing.signal,
  };

  const openStoreNow = async () => {
    await opening;
    return store!;
  };

  return {
    approvals: new Approvals(() => {
      if (!store) throw new Error("the runtime's store is not open yet: await rt.ready()");
      return store;
    }, clock),
    async freeze(reason, o) {
      await opening;
      return freezes!.declare(reason, o);
    },
    async unfreeze(id) {
      await opening;
      return freezes!.lift(id);
    },
    async freezes() {
      await opening;
      return freezes!.list();
    },
    async stopRun(runId, reason) {
      if (typeof reason !== "string" || reason.length === 0) throw new TypeError("stopRun(runId, reason): say why");
      const s = await openStoreNow();
      const here = live.get(runId);
      if (here) await here.stop(reason);
      const there = await s.runs.requestStop(runId, reason, clock.now());
      return Boolean(here) || there;
    },
    async reviewRun(runId, review) {
      if (!review || typeof review.by !== "string" || review.by.length === 0) throw new TypeError("reviewRun(runId, { by, note? }): say who reviewed the changes");
      if (review.note !== undefined && typeof review.note !== "string") throw new TypeError("reviewRun(runId, { by, note? }): note must be a text");
      const s = await openStoreNow();
      const here = live.get(runId);
      if (here) return here.review(review.by, review.note);
      const stored = await s.runs.get(runId);
      if (!stored) throw new Error(`no run ${runId} in the store`);
      // A view of the run made for the review (its policy does not matter to it): the review goes through the run's one path of change.
      const view = new Run(host, { runId, agent: stored.agent, policy }, clock);
      live.delete(view);
      await view.ready();
      return view.review(review.by, review.note);
    },
    registerTools(...more) {
      addTools(tools, more);
    },
    async rollback(runId, extra = [], o = {}) {
      const s = await openStoreNow();
      const here = live.get(runId);
      if (here) return here.rollback(extra, o);
      // A run in another process: it must not go on changing what is being undone. Its
      // calls in flight are waited for (rollback.ts); a call admitted before the stop that
      // claims its key after it finds the stop there and does not execute (idempotency.ts).
      await s.runs.requestStop(runId, "rolled back", clock.now());
      const all = new Map(tools);
      addTools(all, extra, true);
      return rollback({ store: s, clock, runId, tools: all, ...(o.waitMs !== undefined ? { waitMs: o.waitMs } : {}) });
    },
    startRun(o) {
      if (closed) throw new Error("the runtime is closed");
      if (!o || typeof o.agent !== "string" || o.agent.length === 0) throw new TypeError("startRun needs { agent: string }");
      const verifiers = [...runtimeVerifiers, ...checkVerifiers(o.verifiers ?? [], "startRun")];
      checkEnforce(o.enforce, "startRun");
      const enforce = o.enforce ?? options.enforce ?? true;
      if (o.runId !== undefined && (typeof o.runId !== "string" || o.runId.length === 0 || o.runId.length > 256)) throw new TypeError("startRun: runId must be a text of 1 to 256 characters");
      return new Run(host, { runId: o.runId ?? randomUUID(), agent: o.agent, policy: resolvePolicy(policy, o.policy), verifiers, enforce }, clock);
    },
    ready: () => opening,
    get store() {
      if (!store) throw new Error("the runtime's store is not open yet: await rt.ready()");
      return store;
    },
    policy,
    alerts: telemetry.alerts,
    monitors: telemetry.monitors,
    async close() {
      if (closed) return;
      closed = true;
      closing.abort(new RuntimeClosedError());
      clearInterval(sweeper);
      await Promise.allSettled(tracked.list());
      // The steps of reads counted in this process and not yet written.
      await Promise.allSettled([...unsaved].map((s) => s.flush()));
      health?.close();
      await telemetry.close();
      await store?.close();
    },
  };
}

function checkEnforce(enforce: unknown, where: string) {
  if (enforce !== undefined && typeof enforce !== "boolean") throw new TypeError(`${where}: enforce must be true or false (false: shadow mode), not ${JSON.stringify(enforce)}`);
}
