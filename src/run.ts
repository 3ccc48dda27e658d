/**
 * The run: one agent episode. It runs each call through the stages (stages/index.ts, in
 * the one order that is safe), then records its outcome and settles the run's state.
 *
 * The run's state (mode, steps, budgets, chain, gate, confidence, facts, handoff) lives
 * in the store (run-state.ts), so that a run started here may be resumed by id in any
 * process, and processes working one run at once share its limits.
 *
 * `call` never throws for a tool's failure, a hook's or the store's: the outcome is a value
 * the agent loop can hand back to the model. It rejects only for a programming error (a
 * `tool` not made by defineTool).
 */
import type { Call, CallOptions, Env } from "./call.js";
import type { LiveRuns } from "./live-runs.js";
import type { Clock } from "./clock.js";
import { decisionMessages, describeThrown, failures, staged, type Outcome } from "./failure.js";
import type { Policy } from "./policy.js";
import type { Tool } from "./tool.js";
import { approvalAhead, type ApprovalDecision } from "./stages/approval.js";
import { outcomeOf, runStages } from "./stages/index.js";
import { isPromise, type Eventually } from "./eventually.js";
import { rules } from "./stages/rules.js";
import { copyArguments, validateInput } from "./stages/validate-input.js";
import { rollback, type RollbackReport, type RollbackWait } from "./rollback.js";
import { recordShadow } from "./shadow.js";
import type { CallTelemetry, RunTelemetry, Telemetry } from "./telemetry/telemetry.js";
import type { CallFacts } from "./telemetry/tracing.js";
import type { LedgerSnapshot, ReconciledFact } from "./decide/ledger.js";
import { checkDecision, collectVotes, factsVerifier, tally, type Decision, type DecisionVerification, type Verifier } from "./decide/verification.js";
import { RunState } from "./run-state.js";
import { PendingWork } from "./pending-work.js";
import { settleCall, type SettlingRun } from "./settle-call.js";
import { StoreUnavailableError, type HandoffRecord, type RunMode } from "./store/types.js";
import type { ApprovalRequest } from "./decide/approvals.js";

/** What a run needs from its runtime. */
export interface RunHost {
  readonly env: Env;
  newId(): string;
  /** Register work the runtime's close must wait for (and, while it lasts, in `also`). */
  track<T>(work: Promise<T>, also?: PendingWork): Promise<T>;
  /** Wait until the store is open. */
  ready(): Promise<void>;
  /** Aborted when the runtime closes: its calls in flight are cancelled (see RunState.cancelSignal). */
  readonly closing: AbortSignal;
  /** Errors with no caller to report to. */
  onError(error: unknown): void;
  readonly telemetry: Telemetry;
  /** The runtime's tools by name, for rollback; a run adds the tools it calls. */
  readonly tools: Map<string, Tool>;
  /** Run states holding steps of reads not yet in the store: the runtime's close writes them. */
  readonly unsaved: Set<RunState>;
  /** The runtime's runs in this process (for `rt.stopRun`), held weakly: a run nobody holds leaves memory; its state is in the store. */
  readonly live: LiveRuns<Run>;
}

export class Run {
  readonly id: string;
  readonly agent: string;
  private readonly state: RunState;
  private readonly opening: Promise<void>;
  /** Whether the run is in the store (`opening` has resolved): calls then go on without waiting. */
  private opened = false;
  /** This run's calls in flight (rollback waits for them). */
  private readonly calls = new PendingWork();
  private readonly verifiers: readonly Verifier[];
  /** Spans, span events and metrics of this run, in this process (see telemetry/). */
  private readonly telemetry: RunTelemetry;
  /** What a call's settlement uses of this run (see settle-call.ts). */
  private readonly settling: SettlingRun;

  constructor(
    private readonly host: RunHost,
    options: { runId: string; agent: string; policy: Policy; verifiers?: readonly Verifier[]; enforce?: boolean },
    clock: Clock,
  ) {
    this.id = options.runId;
    this.agent = options.agent;
    this.state = new RunState({
      runId: options.runId,
      agent: options.agent,
      policy: options.policy,
      store: () => host.env.store,
      storeOpen: () => host.ready(),
      closing: host.closing,
      now: () => clock.now(),
      enforce: options.enforce ?? true,
      onMode: (mode, reason) => this.telemetry.modeChanged(mode, reason),
      unsaved: host.unsaved,
    });
    this.telemetry = host.telemetry.run({ runId: this.id, agent: this.agent });
    this.settling = {
      state: this.state,
      get env() {
        return host.env;
      },
      newId: () => host.newId(),
      decision: (name, attributes) => this.telemetry.decision(name, attributes),
      published: (rec) => this.published(rec),
      handOff: (reason) => this.handOff(reason),
    };
    this.verifiers = [factsVerifier, ...(options.verifiers ?? [])];
    // Started (or resumed) as soon as the store is open; `ready()` reports how that went.
    this.opening = host.track(this.state.open());
    this.opening.then(
      () => (this.opened = true),
      () => {},
    );
    host.live.add(this);
  }

  /**
   * Resolves once the run is in the store: started, or resumed with its stored state (its
   * mode, steps, budgets, facts...). Rejects if its id belongs to a run that has ended or to
   * another agent, or if the store cannot be reached. Calls wait for it themselves.
   */
  ready(): Promise<void> {
    return this.opening;
  }

  /** The run's mode: normal, read_only, handed_off or halted. */
  get mode(): RunMode {
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

  /** Destructive actions used since the last review, and in flight. */
  get destructive(): { used: number; inFlight: number; max: number } {
    return { used: this.state.destructiveDone, inFlight: this.state.destructivePending, max: this.state.policy.destructive.maxPerRun };
  }

  /** Call `tool` with `args` through every stage. Never rejects but for a programming error. */
  call<I, O>(tool: Tool<I, O>, args: I, options?: CallOptions): Promise<Outcome<O>> {
    if (!tool || typeof tool !== "object" || typeof tool.name !== "string" || !tool.spec || typeof tool.spec.execute !== "function")
      return Promise.reject(new TypeError(`run.call(tool, args): tool must be made by defineTool, got ${describeThrown(tool)}`));
    return this.host.track(this.guarded(tool, args, options?.toolCallId), this.calls) as Promise<Outcome<O>>;
  }

  /**
   * Asks ahead whether calling `tool` with `args` waits for a person, for an adapter whose
   * framework asks the person itself (AI SDK tool approval, OpenAI Agents interruptions):
   * undefined when the policy asks no one (or the call will be refused before a person
   * would see it: invalid arguments, a rule); else the durable request the call will find, made if there is none, with
   * `decision` (the person's answer given in that framework) recorded on it if it is still
   * pending. Undefined in shadow mode. Uses no step; rejects when the store cannot be reached.
   */
  async approval(tool: Tool, args: unknown, decision?: ApprovalDecision): Promise<ApprovalRequest | undefined> {
    await this.opening;
    const { env } = this.host;
    const call: Call = { callId: this.host.newId(), tool, run: this.state, args, sent: args, startedAt: env.clock.now(), attempts: 0, executed: false };
    // Invalid arguments or a rule's refusal: no person is asked; the call itself will say why.
    // In shadow mode the call does not wait for anyone either (it records what it would ask).
    if (!this.state.enforce || copyArguments(call) || (await validateInput(call)) || (await rules(call, env))) return undefined;
    const request = await approvalAhead(call, env, decision);
    if (!request) return undefined;
    const { fingerprint: _, ...visible } = request;
    return visible;
  }

  /**
   * A verification gate passed outside a tool call (a decision verified by several paths,
   * a person who checked the state): the run's unverified depth goes back to 0, so that
   * writes refused as `verification_required` may go on. The reason is recorded.
   */
  passGate(reason: string): Promise<void> {
    if (typeof reason !== "string" || reason.length === 0) throw new TypeError("passGate(reason): say which gate passed");
    this.telemetry.decision("gate", { "bulwark.reason": reason });
    return this.state.passGate(reason).catch(this.host.onError);
  }

  /**
   * Report a label of the agent's own decisions (an intent it classified, a route it took):
   * the runtime watches each `name`'s distribution per agent against its baseline, and
   * alerts when it drifts (see telemetry/monitors.ts).
   */
  observe(name: string, value: string | number | boolean): void {
    if (typeof name !== "string" || name.length === 0 || name.length > 100) throw new TypeError("observe(name, value): name must be a text of 1 to 100 characters");
    if (!["string", "number", "boolean"].includes(typeof value)) throw new TypeError(`observe("${name}", value): value must be a string, number or boolean, not ${value === null ? "null" : typeof value}`);
    this.telemetry.observe(name, String(value));
  }

  /** How many mutations in a row have not been verified (see `maxUnverifiedDepth`). */
  get unverifiedDepth() {
    return this.state.unverifiedDepth;
  }

  /**
   * Undo this run's recorded mutations, newest first, each compensation at most once (see
   * rollback.ts). Waits for the run's calls in flight here, then halts the run: its completed
   * idempotency keys would replay as done the effects that are now undone. Calls of the run
   * in flight in other processes are waited for up to `waitMs`. `tools` adds compensations
   * for tools this run and its runtime do not know.
   */
  async rollback(tools: Iterable<Tool> = [], o: RollbackWait = {}): Promise<RollbackReport> {
    await Promise.allSettled(this.calls.list());
    await this.host.ready();
    await this.state.transition("halted", "rolled back").catch(this.host.onError);
    // Calls of this run in other processes: their next claim finds the stop (idempotency.ts).
    await this.host.env.store.runs.requestStop(this.id, "rolled back", this.host.env.clock.now()).catch(this.host.onError);
    const known = new Map(this.host.tools);
    for (const t of tools) known.set(t.name, t);
    return rollback({ store: this.host.env.store, clock: this.host.env.clock, runId: this.id, tools: known, ...(o.waitMs !== undefined ? { waitMs: o.waitMs } : {}) });
  }

  /** The reconciled fact for `key`: the winner among the sources this run consulted; undefined when unknown or contested. */
  fact(key: string): ReconciledFact | undefined {
    return this.state.ledger.get(key);
  }

  /** Every fact in play: the current winners and the contested keys. */
  facts(): LedgerSnapshot {
    return this.state.ledger.snapshot();
  }

  /** How far the run can be trusted, 1 down to 0 (see decide/confidence.ts). */
  get confidence(): number {
    return this.state.confidence;
  }

  /** The handoff record, once the run has been handed to a person. */
  get handoff(): HandoffRecord | undefined {
    return this.state.handoff;
  }

  /**
   * Check a high-stakes output (an answer to a customer, a plan before a destructive
   * step) by every configured path: the facts ledger (which vetoes), then any second
   * model or custom verifier, under a quorum. Approval passes the verification gate;
   * rejection lowers confidence, and may narrow the run to reading or hand it off.
   * Rejects only for a malformed decision (a programming error), with a TypeError.
   */
  verifyDecision(decision: Decision): Promise<DecisionVerification & { confidence: number; handoff?: HandoffRecord }> {
    try {
      checkDecision(decision);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.host.track(this.verifying(decision));
  }

  private async verifying(decision: Decision): Promise<DecisionVerification & { confidence: number; handoff?: HandoffRecord }> {
    const s = this.state;
    const settled = (r: DecisionVerification) => ({ ...r, confidence: s.confidence, ...(s.handoff ? { handoff: s.handoff } : {}) });
    const over = (reason: string, handedOff: boolean) =>
      settled({ verdict: "rejected", agreed: [], disagreed: [], abstained: [], votes: [], corrections: [], message: handedOff ? decisionMessages.handedOff(reason) : failures.runHalted(reason).message });
    try {
      await this.opening;
    } catch (e) {
      return over(describeThrown(e), false);
    }
    const { env } = this.host;
    if (s.ended || s.mode === "halted" || s.mode === "handed_off") return over(s.ended ? "the run has ended" : (s.reason ?? s.mode), s.mode === "handed_off");
    const base = { runId: this.id, agent: this.agent, facts: s.ledger, now: env.clock.now(), ...(s.policy.maxFactAgeMs !== undefined ? { maxFactAgeMs: s.policy.maxFactAgeMs } : {}) };
    const votes = await collectVotes(decision, this.verifiers, base, s.policy.verification, env.clock, s.cancelSignal);
    const result = tally(votes, s.policy.verification.quorum);
    const reasons = votes.filter((v) => v.verdict === "disagree").map((v) => `${v.verifier}: ${v.reason}`);
    s.history.decision({ text: decision.text, verdict: result.verdict, reasons, at: env.clock.now() });
    this.telemetry.verdict(result.verdict, decision.text, { "bulwark.agreed": result.agreed, "bulwark.disagreed": result.disagreed });
    const p = s.policy.confidence.penalties;
    try {
      if (result.verdict === "approved") await this.passGate(`decision verified by ${result.agreed.join(", ")}`);
      const penalty = result.verdict === "rejected" ? p.decisionRejected : result.disagreed.length * p.verifierDissent;
      const why = result.verdict === "rejected" ? `a decision was rejected (${reasons.join("; ")})` : `verifiers disagreed (${reasons.join("; ")})`;
      if (penalty > 0) await this.lowerConfidence(penalty, why);
      else await s.flush();
    } catch (e) {
      env.onError(e);
    }
    if (s.handoff) result.message = decisionMessages.handedOff(s.handoff.reason);
    return settled(result);
  }

  /**
   * Hand the run to a person: a durable handoff record (the reason, the facts in play,
   * the last calls and decisions, the confidence) goes to the store, and every later call,
   * from any process, is refused with a message that tells the model to say a person will
   * follow up. Called by the run itself when confidence falls below `handoffBelow`;
   * callable by the agent's code. Once per run: a second call returns the first record.
   */
  async handOff(reason: string): Promise<HandoffRecord> {
    if (typeof reason !== "string" || reason.length === 0) throw new TypeError("handOff(reason): say why a person is needed");
    await this.opening;
    const { record, made } = await this.state.handOff(reason, this.host.newId);
    if (made) await this.published(record);
    return record;
  }

  /** Lower confidence (see RunState.lowerConfidence); a handoff it causes is published. */
  private async lowerConfidence(amount: number, why: string): Promise<void> {
    const handoff = await this.state.lowerConfidence(amount, why, this.host.newId);
    this.telemetry.decision("confidence_lowered", { "bulwark.confidence": this.state.confidence, "bulwark.reason": why });
    await this.published(handoff);
  }

  /** A handoff record this process made goes to the store's handoff queue too. */
  private async published(rec: HandoffRecord | undefined): Promise<HandoffRecord | undefined> {
    if (!rec) return rec;
    try {
      await this.host.env.store.handoffs.create(rec);
    } catch (e) {
      this.host.env.onError(e);
    }
    return rec;
  }

  /** A human's stop: no further call executes, here or in any process; calls in flight are cancelled through their signal. */
  async stop(reason: string): Promise<void> {
    const stopping = this.state.stop(reason);
    await this.opening.catch(() => {});
    try {
      await stopping;
      await this.host.env.store.runs.requestStop(this.id, reason, this.host.env.clock.now());
    } catch (e) {
      this.host.onError(e);
    }
  }

  /** End the run: its id is refused from now on, in every process. */
  async end(): Promise<void> {
    this.host.live.delete(this);
    try {
      await this.opening;
      await this.state.end();
    } catch (e) {
      this.host.onError(e);
    }
    this.telemetry.end(this.state.mode, this.state.reason);
  }

  private guarded(tool: Tool, args: unknown, toolCallId: string | undefined): Promise<Outcome<unknown>> {
    const callId = this.host.newId();
    if (this.host.closing.aborted) return Promise.resolve({ ok: false, failure: staged("admission", failures.runtimeClosed()), callId });
    // Once the run is open, a call goes on at once; before, it waits for the opening.
    if (this.opened) return this.guardedOpen(tool, args, toolCallId, callId);
    return this.opening.then(
      () => this.guardedOpen(tool, args, toolCallId, callId),
      (e) => {
        // The run could not start: the store is unreachable, or its id is refused.
        const failure = e instanceof StoreUnavailableError ? failures.storeUnavailable(tool.name, describeThrown(e)) : failures.runHalted(describeThrown(e));
        return { ok: false, failure: staged("admission", failure), callId };
      },
    );
  }

  private guardedOpen(tool: Tool, args: unknown, toolCallId: string | undefined, callId: string): Promise<Outcome<unknown>> {
    const { env } = this.host;
    // Optional parts set, not spread in: a spread of a conditional object per part per call.
    const facts: CallFacts = { tool: tool.name, effect: tool.effect, callId };
    if (toolCallId !== undefined) facts.toolCallId = toolCallId;
    if (tool.spec.description !== undefined) facts.description = tool.spec.description;
    if (tool.spec.redact) facts.redact = tool.spec.redact;
    const t = this.telemetry.startCall(facts, args);
    const call: Call = { callId, tool, run: this.state, args, sent: args, startedAt: env.clock.now(), attempts: 0, executed: false, decisions: t.decisions };
    if (toolCallId !== undefined) (call as { toolCallId?: string }).toolCallId = toolCallId;
    let outcome: Eventually<Outcome<unknown>>;
    try {
      outcome = t.within(() => this.stages(call));
    } catch (e) {
      outcome = this.internalError(call, e);
    }
    if (isPromise(outcome)) return outcome.then((o) => this.ended(call, t, o), (e) => this.ended(call, t, this.internalError(call, e)));
    return Promise.resolve(this.ended(call, t, outcome));
  }

  /** A bug in a stage or a hook: the call fails, the run goes on, nothing is hidden. */
  private internalError(call: Call, e: unknown): Outcome<unknown> {
    this.host.env.onError(e);
    return outcomeOf(call, staged("run", failures.toolError(call.tool.name, `internal error: ${describeThrown(e)}`, call.attempts, false)));
  }

  /** The call's outcome told (span, metrics), and in shadow mode its decisions kept. */
  private ended(call: Call, t: CallTelemetry, outcome: Outcome<unknown>): Eventually<Outcome<unknown>> {
    if (outcome.shadow) return recordShadow(this.host.env, call, outcome.shadow).then(() => this.told(call, t, outcome));
    return this.told(call, t, outcome);
  }

  private told(call: Call, t: CallTelemetry, outcome: Outcome<unknown>): Outcome<unknown> {
    t.end(outcome, call.attempts, (this.host.env.clock.now() - call.startedAt) / 1000);
    return outcome;
  }

  /** The stages (stages/index.ts), then record and the run's settlement. */
  private stages(call: Call): Eventually<Outcome<unknown>> {
    if (!this.host.tools.has(call.tool.name)) this.host.tools.set(call.tool.name, call.tool);
    const outcome = runStages(call, this.host.env);
    return isPromise(outcome) ? outcome.then((o) => settleCall(this.settling, call, o)) : settleCall(this.settling, call, outcome);
  }

  /** A person reviewed the run's changes (see Runtime.reviewRun). */
  review(by: string, note?: string) {
    return this.state.review(by, note);
  }
}
