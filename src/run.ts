/**
 * The run: one agent episode. It holds the chain state (steps, failures in a row,
 * budgets, mode) and composes the stages of a call, in the one order that is safe:
 *
 *   admission       refuse early, before any work: the run's state and limits, the
 *                   freeze, budgets, the tool's breaker. Cheapest checks first.
 *   validate in     arguments are parsed before they are hashed into a key, so that
 *                   two spellings of one intent share a key.
 *   idempotency     before execute, so that a repeat never reaches the tool.
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
import { failures, type Failure, type Outcome } from "./failure.js";
import type { Policy } from "./policy.js";
import type { Tool } from "./tool.js";
import { admission } from "./stages/admission.js";
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
}

export class Run {
  readonly id: string;
  readonly agent: string;
  private readonly state: RunState;
  private readonly stopper = new AbortController();
  private seq = 0;

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
    return this.host.track(this.guarded(tool, args)) as Promise<Outcome<O>>;
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
    const invalid = await validateInput(call);
    if (invalid) return this.failed(call, invalid);
    const key = await idempotency(call, env, inFlight);
    if ("outcome" in key) return key.outcome;
    const failure = (await execute(call, env)) ?? (await validateOutput(call)) ?? (await verify(call, env));
    if (failure) return this.failed(call, failure);
    return { ok: true, value: call.output, callId: call.callId, replayed: false };
  }

  private failed(call: Call, failure: Failure): Outcome<unknown> {
    return { ok: false, failure, callId: call.callId };
  }

  /** A refusal at admission: it counts toward the chain breaker, but nothing was reserved. */
  private async refuse(call: Call, failure: Failure): Promise<Outcome<unknown>> {
    const mode = this.state.mode;
    countTowardChain(this.state, call.tool.name, failure);
    if (mode !== this.state.mode) await this.save();
    return this.failed(call, failure);
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
