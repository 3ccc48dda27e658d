/**
 * createRuntime: wires the store, the tools' health, the clock and the base policy, and
 * starts runs. One runtime per process is the usual shape; runs share its breakers,
 * retry budgets and bulkheads, and its store is shared with other processes.
 */
import { randomUUID } from "node:crypto";
import type { Env } from "./call.js";
import { systemClock, type Clock } from "./clock.js";
import { defaultPolicy, resolvePolicy, type Policy, type PolicyInput } from "./policy.js";
import { HealthRegistry } from "./resilience/tool-health.js";
import { retryBudgetDefaults, type RetryBudgetOptions } from "./resilience/retry-budget.js";
import { Run, type RunHost } from "./run.js";
import type { InFlight } from "./stages/idempotency.js";
import { openStore } from "./store/open.js";
import type { Store } from "./store/types.js";

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
  };
  retryBudget?: Partial<RetryBudgetOptions>;
  /** How often breaker states published by other processes are adopted [1_000]. */
  breakerSyncMs?: number;
  /** Errors with no caller to report to (a record that could not be written) [console.warn]. */
  onError?: (error: unknown) => void;
}

export interface StartRunOptions {
  agent: string;
  runId?: string;
  policy?: PolicyInput;
}

export interface Runtime {
  startRun(options: StartRunOptions): Run;
  /** Resolves once the store is open; rejects with a clear error if it cannot be. */
  ready(): Promise<void>;
  /** The open store (after `ready`). */
  readonly store: Store;
  readonly policy: Readonly<Policy>;
  /** Stop taking calls, wait for calls in flight (not for executions that already timed out), close the store. */
  close(): Promise<void>;
}

const DAY = 24 * 60 * 60 * 1000;

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const policy = resolvePolicy(defaultPolicy, options.policy);
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? ((e: unknown) => console.warn("bulwark:", e));
  const retentionMs = options.idempotency?.retentionMs ?? DAY;
  if (!(retentionMs > 0)) throw new TypeError(`idempotency.retentionMs must be positive, not ${retentionMs}`);
  const budget = { ...retryBudgetDefaults, ...options.retryBudget };

  let store: Store | undefined;
  let health: HealthRegistry | undefined;
  let env: Env | undefined;
  const opening = openStore(options.store ?? "memory").then((s) => {
    store = s;
    health = new HealthRegistry(clock, budget, s.breakers, onError);
    health.startSync(options.breakerSyncMs ?? 1_000);
    env = { clock, store: s, health, random: options.random ?? Math.random, retentionMs, onError };
  });
  // The rejection is reported by ready() and by every call; not an unhandled rejection.
  opening.catch(() => {});

  const inFlight: InFlight = new Map();
  const tracked = new Set<Promise<unknown>>();
  let closed = false;

  const host: RunHost = {
    get env() {
      if (!env) throw new Error("the runtime's store is not open yet: await rt.ready()");
      return env;
    },
    inFlight,
    newId: () => randomUUID(),
    track(work) {
      tracked.add(work);
      work.then(
        () => tracked.delete(work),
        () => tracked.delete(work),
      );
      return work;
    },
    ready: () => (env ? Promise.resolve() : opening),
  };

  return {
    startRun(o) {
      if (closed) throw new Error("the runtime is closed");
      if (!o || typeof o.agent !== "string" || o.agent.length === 0) throw new TypeError("startRun needs { agent: string }");
      const run = new Run(host, { runId: o.runId ?? randomUUID(), agent: o.agent, policy: resolvePolicy(policy, o.policy) }, clock);
      host.track(opening.then(() => run.begin())).catch(() => {});
      return run;
    },
    ready: () => opening,
    get store() {
      if (!store) throw new Error("the runtime's store is not open yet: await rt.ready()");
      return store;
    },
    policy,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...tracked]);
      health?.close();
      await store?.close();
    },
  };
}
