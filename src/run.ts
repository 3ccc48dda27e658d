/**
 * The run: one agent episode. It holds the chain state (steps, failures in a row,
 * budgets, mode) and composes the stages of a call, in the one order that is safe:
 *
 *   admission       refuse early, before any work: the run's state and limits, the
 *                   freeze, budgets, the tool's breaker. Cheapest checks first.
 *   validate in     arguments are parsed before they are hashed into a key, so that
 *                   two spellings of one intent share a key.
 *   approval        after validate in, because a person approves the parsed arguments
 *                   that will run; before idempotency, so no key is held while waiting.
 *   idempotency     before execute, so that a repeat never reaches the tool.
 *   checkpoint      after idempotency (a replay takes no second backup), right before
 *                   the action, once per call.
 *   execute         bulkhead, timeout, bounded retry under the retry budget.
 *   validate out    before anything trusts the response: facts, verify, the model.
 *   verify          read-your-writes, on a response known to be well-formed.
 *   record          last, once the outcome is final: key, ledger, chain state.
 *
 * `call` never throws for a tool's failure: the outcome is a value the agent loop can
 * hand back to the model.
 */
import type { Call, Env, RunState } from "./call.js";
import type { Clock } from "./clock.js";
import { describeThrown, failures, type Failure, type Outcome } from "./failure.js";
import type { Policy } from "./policy.js";
import type { Tool } from "./tool.js";
import { admission } from "./stages/admission.js";
import { approval } from "./stages/approval.js";
import { checkpoint } from "./stages/checkpoint.js";
import { rollback, type RollbackReport } from "./rollback.js";
import { execute } from "./stages/execute.js";
import { idempotency, type InFlight } from "./stages/idempotency.js";
import { record, countTowardChain } from "./stages/record.js";
import { validateInput } from "./stages/validate-input.js";
import { validateOutput } from "./stages/validate-output.js";
import { verify } from "./stages/verify.js";
import type { RunRecord } from "./store/types.js";

/** What a run needs from its runtime. */
export interface RunHost {
  readonly env: Env;
  readonly inFlight: InFlight;
  newId(prefix: string): string;
  /** Register work the runtime's close must wait for. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Wait until the store is open. */
  ready(): Promise<void>;
  /** The runtime's tools by name, for rollback; a run adds the tools it calls. */
  readonly tools?: Map<string, Tool>;
  /** The runtime's runs in this process, by id (for `rt.stopRun`); a run leaves at its end. */
  readonly live?: Map<string, Run>;
}

/**
 * How often a run looks in the store for a stop requested by another process before a
 * read. Before every write or destructive call it always looks (one keyed read, plus the
 * declared freezes): a change is what a stop and a freeze exist to prevent, and it costs
 * far more than the read. Reads are let through on the in-process state for up to this
 * long, so that a read-heavy loop does not pay a store round trip per call; a stop made
 * in this process (`run.stop`, `rt.stopRun`) holds at once, whatever this says.
 */
export const STOP_POLL_MS = 1_000;

export class Run {
  readonly id: string;
  readonly agent: string;
  private readonly state: RunState;
  private readonly stopper = new AbortController();
  private seq = 0;
  /** When the store was last looked at for a stop requested elsewhere. */
  private lastWatch = -Infinity;
  /** This run's calls in flight (rollback waits for them). */
  private readonly calls = new Set<Promise<unknown>>();
  /** Tools this run called, when the runtime keeps no registry. */
  private readonly used = new Map<string, Tool>();

  constructor(
    private readonly host: RunHost,
    options: { runId: string; agent: string; policy: Policy },
    clock: Clock,
  ) {
    this.id = options.runId;
    this.agent = options.agent;
    this.state = {
      runId: options.runId,
      agent: options.agent,
      policy: options.policy,
      mode: "normal",
      steps: 0,
      consecutiveFailures: 0,
      streak: [],
      destructiveDone: 0,
      destructivePending: 0,
      unverifiedDepth: 0,
      startedAt: clock.now(),
      ended: false,
      stopSignal: this.stopper.signal,
    };
    host.live?.set(this.id, this);
  }

  /** The run's mode: normal, read_only, handed_off or halted. */
  get mode() {
    return this.state.mode;
  }

  /** Why the run left normal mode, if it did. */
  get reason() {
    return this.state.reason;
  }

  get steps() {
    return this.state.steps;
  }

  get policy(): Readonly<Policy> {
    return this.state.policy;
  }

  /** Call `tool` with `args` through every stage. Never throws for the tool's failure. */
  call<I, O>(tool: Tool<I, O>, args: I): Promise<Outcome<O>> {
    const work = this.host.track(this.guarded(tool, args));
    this.calls.add(work);
    void work.finally(() => this.calls.delete(work));
    return work as Promise<Outcome<O>>;
  }

  /**
   * A verification gate passed outside a tool call (a decision verified by several paths,
   * a person who checked the state): the run's unverified depth goes back to 0, so that
   * writes refused as `verification_required` may go on. The reason is for the record.
   */
  passGate(reason: string): void {
    if (typeof reason !== "string" || reason.length === 0) throw new TypeError("passGate(reason): say which gate passed");
    this.state.unverifiedDepth = 0;
    this.state.lastGate = { reason, at: this.host.env.clock.now() };
  }

  /** How many mutations in a row have not been verified (see `maxUnverifiedDepth`). */
  get unverifiedDepth() {
    return this.state.unverifiedDepth;
  }

  /**
   * Undo this run's recorded mutations, newest first, each compensation at most once (see
   * rollback.ts). Waits for the run's calls in flight, then halts the run: its completed
   * idempotency keys would replay as done the effects that are now undone. `tools` adds
   * compensations for tools this run and its runtime do not know.
   */
  async rollback(tools: Iterable<Tool> = []): Promise<RollbackReport> {
    await Promise.allSettled([...this.calls]);
    await this.host.ready();
    this.halt("rolled back");
    await this.save();
    const known = new Map([...this.used, ...(this.host.tools ?? [])]);
    for (const t of tools) known.set(t.name, t);
    return rollback({ store: this.host.env.store, clock: this.host.env.clock, runId: this.id, tools: known });
  }

  /** A human's stop: no further call executes; calls in flight are cancelled through their signal. */
  async stop(reason: string): Promise<void> {
    this.halt(`stopped by a person: ${reason}`);
    this.stopper.abort(new Error(`run stopped: ${reason}`));
    await this.save();
  }

  async end(): Promise<void> {
    if (this.state.ended) return;
    this.state.ended = true;
    if (this.host.live?.get(this.id) === this) this.host.live.delete(this.id);
    await this.save();
  }

  private async guarded(tool: Tool, args: unknown): Promise<Outcome<unknown>> {
    await this.host.ready();
    const { env } = this.host;
    const call: Call = {
      callId: this.host.newId("call"),
      tool,
      run: this.state,
      args,
      startedAt: env.clock.now(),
      attempts: 0,
      executed: false,
    };
    const registry = this.host.tools ?? this.used;
    if (!registry.has(tool.name)) registry.set(tool.name, tool);
    const unseen = await this.watch(tool);
    if (unseen) return this.refuse(call, unseen);
    const refused = admission(call, env);
    if (refused) return this.refuse(call, refused);

    let outcome: Outcome<unknown>;
    try {
      outcome = await this.through(call);
    } catch (e) {
      // A bug in a stage or a hook: the call fails, the run goes on, nothing is hidden.
      env.onError(e);
      outcome = this.failed(call, failures.toolError(tool.name, `internal error: ${e instanceof Error ? e.message : String(e)}`, call.attempts, false));
    }
    if (outcome.replayed) {
      // Replays use no step, budget or depth.
      this.state.steps--;
      if (tool.effect === "destructive") this.state.destructivePending--;
      return outcome;
    }
    await record(call, outcome, env, () => ++this.seq);
    call.settleDuplicates?.(outcome);
    if (this.state.mode !== "normal") await this.save();
    return outcome;
  }

  private async through(call: Call): Promise<Outcome<unknown>> {
    const { env, inFlight } = this.host;
    const invalid = (await validateInput(call)) ?? (await approval(call, env, () => this.host.newId("approval")));
    if (invalid) return this.failed(call, invalid);
    const key = await idempotency(call, env, inFlight);
    if ("outcome" in key) return key.outcome;
    const failure = (await checkpoint(call, env)) ?? (await execute(call, env)) ?? (await validateOutput(call)) ?? (await verify(call, env));
    if (failure) return this.failed(call, failure);
    return { ok: true, value: call.output, callId: call.callId, replayed: false };
  }

  private failed(call: Call, failure: Failure): Outcome<unknown> {
    return { ok: false, failure, callId: call.callId };
  }

  /** A refusal at admission: it counts toward the chain breaker, but nothing was reserved. */
  private async refuse(call: Call, failure: Failure): Promise<Outcome<unknown>> {
    const mode = this.state.mode;
    if (failure.kind === "destructive_budget_exceeded" && this.state.mode === "normal") {
      // Graceful degradation: the run may still read and answer, but makes no more changes.
      this.state.mode = "read_only";
      this.state.reason = `its destructive budget (${this.state.policy.destructive.maxPerRun}) is used up; a person must review the changes made before any more are`;
    }
    countTowardChain(this.state, call.tool.name, failure);
    if (mode !== this.state.mode) await this.save();
    return this.failed(call, failure);
  }

  /**
   * Notice what other processes decided, before a call: a stop requested through the
   * store, a freeze declared through it. Always before a mutation (and it fails closed
   * when the store cannot say), at most every STOP_POLL_MS before a read.
   */
  private async watch(tool: Tool): Promise<Failure | undefined> {
    const { env } = this.host;
    if (this.state.mode === "halted" || this.state.ended) return undefined;
    const mutation = tool.effect !== "read";
    const now = env.clock.now();
    if (!mutation && now - this.lastWatch < STOP_POLL_MS) return undefined;
    this.lastWatch = now;
    try {
      const [record] = await Promise.all([env.store.runs.get(this.id), mutation ? env.freezes?.refresh() : undefined]);
      const stop = record?.stopRequested;
      if (stop) await this.stop(stop.reason);
    } catch (e) {
      if (mutation) return failures.storeUnavailable(tool.name, describeThrown(e));
      env.onError(e);
    }
    return undefined;
  }

  private halt(reason: string) {
    if (this.state.mode === "halted") return;
    this.state.mode = "halted";
    this.state.reason = reason;
  }

  private async save(): Promise<void> {
    await this.host.ready();
    const s = this.state;
    const now = this.host.env.clock.now();
    const rec: RunRecord = {
      runId: s.runId,
      agent: s.agent,
      status: s.ended ? "ended" : "running",
      mode: s.mode,
      steps: s.steps,
      startedAt: s.startedAt,
      updatedAt: now,
      ...(s.reason !== undefined ? { reason: s.reason } : {}),
      ...(s.ended ? { endedAt: now } : {}),
    };
    try {
      await this.host.env.store.runs.put(rec);
    } catch (e) {
      this.host.env.onError(e);
    }
  }

  /** Persist the run's start (the runtime calls this once the store is open). */
  begin(): Promise<void> {
    return this.save();
  }
}
