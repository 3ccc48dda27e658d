/**
 * The run: one agent episode. It holds the chain state (steps, failures in a row,
 * budgets, mode) and composes the stages of a call, in the one order that is safe:
 *
 *   admission       refuse early, before any work: the run's state and limits, the
 *                   freeze, budgets, the tool's breaker. Cheapest checks first. Before a
 *                   mutation the store is asked for a stop or freeze made elsewhere; for a
 *                   keyed one that asks no person, that question goes out with the claim
 *                   (one round trip), and its answer is awaited before the claim is used.
 *   validate in     arguments are parsed before they are hashed into a key, so that
 *                   two spellings of one intent share a key.
 *   rules           the policy's rules over the parsed arguments and the run's facts;
 *                   before approval, so that no person is asked about a forbidden call.
 *   approval        after validate in, because a person approves the parsed arguments
 *                   that will run; before idempotency, so no key is held while waiting.
 *   idempotency     before execute, so that a repeat never reaches the tool.
 *   checkpoint      after idempotency (a replay takes no second backup), right before
 *                   the action, once per call.
 *   execute         bulkhead, timeout, bounded retry under the retry budget.
 *   validate out    before anything trusts the response: facts, verify, the model.
 *   facts           reconcile the facts the response asserts with the run's ledger, on a
 *                   well-formed response; before verify, so that a read-back is not spent
 *                   on a response whose facts are stale or contradicted.
 *   verify          read-your-writes, on a response known to be well-formed.
 *   record          last, once the outcome is final: key, ledger, chain state.
 *
 * `call` never throws for a tool's failure: the outcome is a value the agent loop can
 * hand back to the model.
 */
import { newRunState, type Call, type Env, type RunState } from "./call.js";
import type { Clock } from "./clock.js";
import { decisionMessages, describeThrown, failures, staged, type Failure, type Outcome } from "./failure.js";
import type { Policy } from "./policy.js";
import type { Tool } from "./tool.js";
import { admission, admit } from "./stages/admission.js";
import { judged, recordShadow } from "./shadow.js";
import { approval, approvalAhead, type ApprovalDecision } from "./stages/approval.js";
import { checkpoint } from "./stages/checkpoint.js";
import { rollback, type RollbackReport } from "./rollback.js";
import { execute } from "./stages/execute.js";
import { idempotency, type InFlight } from "./stages/idempotency.js";
import { record, countTowardChain, recordMutation } from "./stages/record.js";
import { rules } from "./stages/rules.js";
import { copyArguments, validateInput } from "./stages/validate-input.js";
import { validateOutput } from "./stages/validate-output.js";
import { verify } from "./stages/verify.js";
import type { RunTelemetry, Telemetry } from "./telemetry/telemetry.js";
import { facts } from "./stages/facts.js";
import { callPenalty, levelOf, lower } from "./decide/confidence.js";
import { escalationReason, handoffRecord, RecentHistory } from "./decide/handoff.js";
import { FactLedger, type LedgerSnapshot, type ReconciledFact } from "./decide/ledger.js";
import { checkDecision, collectVotes, factsVerifier, tally, type Decision, type DecisionVerification, type Verifier } from "./decide/verification.js";
import type { HandoffRecord, RunMode, RunRecord } from "./store/types.js";
import type { ApprovalRequest } from "./decide/approvals.js";

/** What a run needs from its runtime. */
export interface RunHost {
  readonly env: Env;
  readonly inFlight: InFlight;
  newId(): string;
  /** Register work the runtime's close must wait for. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Wait until the store is open. */
  ready(): Promise<void>;
  /** The runtime's tools by name, for rollback; a run adds the tools it calls. */
  readonly tools: Map<string, Tool>;
  /** The runtime's runs in this process, by id (for `rt.stopRun`); a run leaves at its end. */
  readonly live: Map<string, Run>;
  readonly telemetry: Telemetry;
}

/** What the caller knows about a call beyond its arguments. */
export interface CallOptions {
  /**
   * The model's id for this tool call (e.g. the AI SDK's `toolCallId`), recorded as the
   * span's `gen_ai.tool.call.id` so that Bulwark's span joins the model's tool call.
   */
  toolCallId?: string;
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
  /** The mode last written to the store: the run is saved again only when it changes. */
  private savedMode: RunMode = "normal";
  /** When the store was last looked at for a stop requested elsewhere. */
  private lastWatch = -Infinity;
  /** This run's calls in flight (rollback waits for them). */
  private readonly calls = new Set<Promise<unknown>>();
  /** Trust (see decide/): the facts ledger, confidence, recent history, verifiers, handoff. */
  private readonly ledger = new FactLedger();
  private trust = 1;
  private readonly history = new RecentHistory();
  private readonly verifiers: readonly Verifier[];
  private handedOff: HandoffRecord | undefined;
  /** Spans, span events and metrics of this run (see telemetry/). */
  private readonly telemetry: RunTelemetry;

  constructor(
    private readonly host: RunHost,
    options: { runId: string; agent: string; policy: Policy; verifiers?: readonly Verifier[]; enforce?: boolean },
    clock: Clock,
  ) {
    this.id = options.runId;
    this.agent = options.agent;
    this.state = newRunState({
      runId: options.runId,
      agent: options.agent,
      policy: options.policy,
      startedAt: clock.now(),
      stopSignal: this.stopper.signal,
      ledger: this.ledger,
      history: this.history,
      enforce: options.enforce ?? true,
    });
    this.verifiers = [factsVerifier, ...(options.verifiers ?? [])];
    host.live.set(this.id, this);
    this.telemetry = host.telemetry.run({ runId: this.id, agent: this.agent });
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
  call<I, O>(tool: Tool<I, O>, args: I, options?: CallOptions): Promise<Outcome<O>> {
    const work = this.host.track(this.guarded(tool, args, options?.toolCallId));
    this.calls.add(work);
    void work.finally(() => this.calls.delete(work));
    return work as Promise<Outcome<O>>;
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
    await this.host.ready();
    const { env } = this.host;
    const call: Call = { callId: this.host.newId(), tool, run: this.state, args, sent: args, startedAt: env.clock.now(), attempts: 0, executed: false };
    // Invalid arguments or a rule's refusal: no person is asked; the call itself will say why.
    // In shadow mode the call does not wait for anyone either (it records what it would ask).
    if (!this.state.enforce || copyArguments(call) || (await validateInput(call)) || (await rules(call, env))) return undefined;
    const request = await approvalAhead(call, env, () => this.host.newId(), decision);
    if (!request) return undefined;
    const { fingerprint: _, ...visible } = request;
    return visible;
  }

  /**
   * A verification gate passed outside a tool call (a decision verified by several paths,
   * a person who checked the state): the run's unverified depth goes back to 0, so that
   * writes refused as `verification_required` may go on. The reason is for the record.
   */
  passGate(reason: string): void {
    if (typeof reason !== "string" || reason.length === 0) throw new TypeError("passGate(reason): say which gate passed");
    this.state.unverifiedDepth = 0;
    this.telemetry.decision("gate", { "bulwark.reason": reason });
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
   * rollback.ts). Waits for the run's calls in flight, then halts the run: its completed
   * idempotency keys would replay as done the effects that are now undone. `tools` adds
   * compensations for tools this run and its runtime do not know.
   */
  async rollback(tools: Iterable<Tool> = []): Promise<RollbackReport> {
    await Promise.allSettled([...this.calls]);
    await this.host.ready();
    this.halt("rolled back");
    await this.save();
    const known = new Map(this.host.tools);
    for (const t of tools) known.set(t.name, t);
    return rollback({ store: this.host.env.store, clock: this.host.env.clock, runId: this.id, tools: known });
  }

  /** The reconciled fact for `key`: the winner among the sources this run consulted; undefined when unknown or contested. */
  fact(key: string): ReconciledFact | undefined {
    return this.ledger.get(key);
  }

  /** Every fact in play: the current winners and the contested keys. */
  facts(): LedgerSnapshot {
    return this.ledger.snapshot();
  }

  /** How far the run can be trusted, 1 down to 0 (see decide/confidence.ts). */
  get confidence(): number {
    return this.trust;
  }

  /** The handoff record, once the run has been handed to a person. */
  get handoff(): HandoffRecord | undefined {
    return this.handedOff;
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
    await this.host.ready();
    const { env } = this.host;
    const s = this.state;
    const settled = (r: DecisionVerification) => ({ ...r, confidence: this.trust, ...(this.handedOff ? { handoff: this.handedOff } : {}) });
    if (s.ended || s.mode === "halted" || s.mode === "handed_off") {
      const reason = s.ended ? "the run has ended" : (s.reason ?? s.mode);
      const message = s.mode === "handed_off" ? decisionMessages.handedOff(reason) : failures.runHalted(reason).message;
      return settled({ verdict: "rejected", agreed: [], disagreed: [], abstained: [], votes: [], corrections: [], message });
    }
    const base = { runId: this.id, agent: this.agent, facts: this.ledger, now: env.clock.now(), ...(s.policy.maxFactAgeMs !== undefined ? { maxFactAgeMs: s.policy.maxFactAgeMs } : {}) };
    const votes = await collectVotes(decision, this.verifiers, base, s.policy.verification, env.clock, s.stopSignal);
    const result = tally(votes, s.policy.verification.quorum);
    const reasons = votes.filter((v) => v.verdict === "disagree").map((v) => `${v.verifier}: ${v.reason}`);
    this.history.decision({ text: decision.text, verdict: result.verdict, reasons, at: env.clock.now() });
    this.telemetry.verdict(result.verdict, decision.text, { "bulwark.agreed": result.agreed, "bulwark.disagreed": result.disagreed });
    const p = s.policy.confidence.penalties;
    if (result.verdict === "approved") this.passGate(`decision verified by ${result.agreed.join(", ")}`);
    const penalty = result.verdict === "rejected" ? p.decisionRejected : result.disagreed.length * p.verifierDissent;
    if (penalty > 0) await this.lowerConfidence(penalty, result.verdict === "rejected" ? `a decision was rejected (${reasons.join("; ")})` : `verifiers disagreed (${reasons.join("; ")})`);
    if (this.handedOff) result.message = decisionMessages.handedOff(this.handedOff.reason);
    return settled(result);
  }

  /**
   * Hand the run to a person: a durable handoff record (the reason, the facts in play,
   * the last calls and decisions, the confidence) goes to the store, and every later call
   * is refused with a message that tells the model to say a person will follow up.
   * Called by the run itself when confidence falls below `handoffBelow`; callable by the
   * agent's code. Once per run: a second call returns the first record.
   */
  async handOff(reason: string): Promise<HandoffRecord> {
    if (this.handedOff) return this.handedOff;
    if (typeof reason !== "string" || reason.length === 0) throw new TypeError("handOff(reason): say why a person is needed");
    await this.host.ready();
    const { env } = this.host;
    const rec = handoffRecord({
      id: this.host.newId(),
      runId: this.id,
      agent: this.agent,
      reason,
      at: env.clock.now(),
      confidence: this.trust,
      facts: this.ledger.snapshot(),
      history: this.history,
    });
    this.handedOff = rec;
    // A person's stop (halted) stays the stronger state; the record is written either way.
    if (this.state.mode !== "halted") {
      this.state.mode = "handed_off";
      this.state.reason = reason;
    }
    try {
      await env.store.handoffs.create(rec);
    } catch (e) {
      env.onError(e);
    }
    await this.save();
    return rec;
  }

  /** Lower confidence; below the policy's thresholds narrow the run to reading, then hand it off. Never widens. */
  private async lowerConfidence(amount: number, why: string): Promise<void> {
    const s = this.state;
    this.trust = lower(this.trust, amount);
    this.telemetry.decision("confidence_lowered", { "bulwark.confidence": this.trust, "bulwark.reason": why });
    if (s.mode === "handed_off" || s.mode === "halted" || this.handedOff) return;
    const c = s.policy.confidence;
    const level = levelOf(this.trust, c);
    if (level === "handoff") {
      await this.handOff(`confidence ${this.trust} fell below ${c.handoffBelow} after ${why}`);
    } else if (level === "read_only" && s.mode === "normal") {
      s.mode = "read_only";
      s.reason = `confidence ${this.trust} fell below ${c.readOnlyBelow} after ${why}`;
      await this.save();
    }
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
    if (this.host.live.get(this.id) === this) this.host.live.delete(this.id);
    await this.save();
    this.telemetry.end(this.state.mode, this.state.reason);
  }

  private async guarded(tool: Tool, args: unknown, toolCallId: string | undefined): Promise<Outcome<unknown>> {
    await this.host.ready();
    const { env } = this.host;
    const callId = this.host.newId();
    const t = this.telemetry.startCall({ tool: tool.name, effect: tool.effect, callId, ...(toolCallId !== undefined ? { toolCallId } : {}), ...(tool.spec.description !== undefined ? { description: tool.spec.description } : {}), ...(tool.spec.redact ? { redact: tool.spec.redact } : {}) }, args);
    const call: Call = {
      callId,
      tool,
      run: this.state,
      args,
      sent: args,
      startedAt: env.clock.now(),
      attempts: 0,
      executed: false,
      decisions: t.decisions,
    };
    const outcome = await t.within(() => this.decide(call));
    if (outcome.shadow) await recordShadow(env, call, outcome.shadow);
    t.end(outcome, call.attempts, (env.clock.now() - call.startedAt) / 1000);
    return outcome;
  }

  /** The stages, in order, from admission to record. */
  private async decide(call: Call): Promise<Outcome<unknown>> {
    const { env } = this.host;
    const { tool } = call;
    if (!this.host.tools.has(tool.name)) this.host.tools.set(tool.name, tool);
    const watching = this.watch(tool);
    // A keyed mutation that asks no person sends its claim while the store is asked for a
    // stop or freeze (on a networked store, in the same round trip); the claim is acted on
    // only once the answer is in, and undone if it refuses (see `gate`). Others wait first.
    let early = this.state.enforce && tool.effect !== "read" && tool.keyed && !tool.escalation && (tool.spec.approval === undefined || tool.spec.approval === "never");
    if (!early) {
      const unseen = await watching;
      // A stop found in the store halts the run; the way to a person stays open.
      if (unseen && !tool.escalation) return this.refuse(call, unseen);
    }
    let refused = admission(call, env);
    if (refused && early) {
      // Refused on what this process knew: ask again on what the store said (a freeze lifted elsewhere).
      early = false;
      refused = (await watching) ?? admission(call, env);
    }
    if (refused) {
      if (this.state.enforce) return this.refuse(call, refused);
      judged(call, staged("admission", refused));
      admit(call);
    }

    let outcome: Outcome<unknown>;
    try {
      outcome = await this.through(call, early ? this.gate(call, watching) : undefined);
    } catch (e) {
      // A bug in a stage or a hook: the call fails, the run goes on, nothing is hidden.
      env.onError(e);
      outcome = this.failed(call, staged("run", failures.toolError(tool.name, `internal error: ${describeThrown(e)}`, call.attempts, false)));
    }
    if (outcome.replayed) {
      // Replays use no step, budget or depth. An effect found by the probe after its owner
      // died was never recorded: it enters the ledger now, for rollback.
      this.state.steps--;
      if (tool.effect === "destructive") this.state.destructivePending--;
      if (call.recovered) await recordMutation(call, env, ++this.seq);
      return outcome;
    }
    outcome = await record(call, outcome, env, () => ++this.seq);
    call.settleDuplicates?.(outcome);
    this.history.call({ callId: call.callId, tool: tool.name, effect: tool.effect, args: call.args, redact: tool.spec.redact }, outcome, env.clock.now());
    if (tool.escalation) await this.handOff(escalationReason(tool.name, call.args, tool.spec.redact));
    const penalty = callPenalty(tool.effect, outcome, call.verified, this.state.policy.confidence.penalties);
    if (penalty) await this.lowerConfidence(penalty.amount, `${tool.name}: ${penalty.reason}`);
    if (this.state.mode !== this.savedMode) await this.save();
    return outcome;
  }

  private async through(call: Call, gate?: () => Promise<Failure | undefined>): Promise<Outcome<unknown>> {
    const { env, inFlight } = this.host;
    const invalid =
      // Arguments too deep or too large for Bulwark to handle are refused even in shadow mode.
      staged("validate-input", copyArguments(call)) ??
      judged(call, staged("validate-input", await validateInput(call))) ??
      judged(call, staged("rules", await rules(call, env))) ??
      judged(call, staged("approval", await approval(call, env, () => this.host.newId())));
    if (invalid) return this.failed(call, (await gate?.()) ?? invalid);
    const key = await idempotency(call, env, inFlight, gate);
    if ("outcome" in key) {
      if (!key.outcome.ok) staged("idempotency", key.outcome.failure);
      return key.outcome;
    }
    const failure = judged(call, staged("checkpoint", await checkpoint(call, env))) ?? staged("execute", await execute(call, env));
    // An attempt whose response was lost, seen to have landed by the probe: nothing to check.
    if (!failure && call.recovered) return { ok: true, value: null, callId: call.callId, replayed: false, recovered: true, ...(call.shadow ? { shadow: call.shadow } : {}) };
    const rejected =
      failure ??
      judged(call, staged("validate-output", await validateOutput(call))) ??
      judged(call, staged("facts", await facts(call, env))) ??
      judged(call, staged("verify", await verify(call, env)));
    if (rejected) return this.failed(call, rejected);
    return { ok: true, value: call.output, callId: call.callId, replayed: false, ...(call.notes ? { notes: call.notes } : {}), ...(call.shadow ? { shadow: call.shadow } : {}) };
  }

  /**
   * What the store said before a mutation whose claim went out beside the question (see
   * `decide`): a stop found (the run is now halted), a freeze declared elsewhere, or a store
   * that could not say. A refusal here is a refusal at admission: the step is given back;
   * the record stage releases a claim this call took fresh, and keeps a lapsed one it took
   * over (a release would let the next caller run that effect again unverified).
   */
  private gate(call: Call, watching: Promise<Failure | undefined>): () => Promise<Failure | undefined> {
    let answer: Promise<Failure | undefined> | undefined;
    return () =>
      (answer ??= (async () => {
        const { env } = this.host;
        const unseen = await watching; // refreshes the freezes
        const declared = env.freezes?.at(env.clock.now());
        const failure = unseen ?? (declared && failures.frozen(call.tool.name, declared.until, declared.reason));
        if (failure) this.state.steps--;
        return staged("admission", failure);
      })());
  }

  private failed(call: Call, failure: Failure): Outcome<unknown> {
    return { ok: false, failure, callId: call.callId, ...(call.shadow ? { shadow: call.shadow } : {}) };
  }

  /** A refusal at admission: it counts toward the chain breaker, but nothing was reserved. */
  private async refuse(call: Call, failure: Failure): Promise<Outcome<unknown>> {
    staged("admission", failure);
    if (failure.kind === "destructive_budget_exceeded" && this.state.mode === "normal") {
      // Graceful degradation: the run may still read and answer, but makes no more changes.
      this.state.mode = "read_only";
      this.state.reason = `its destructive budget (${this.state.policy.destructive.maxPerRun}) is used up; a person must review the changes made before any more are`;
    }
    countTowardChain(this.state, call.tool.name, failure);
    this.history.call({ callId: call.callId, tool: call.tool.name, effect: call.tool.effect, args: call.args, redact: call.tool.spec.redact }, { ok: false, failure, callId: call.callId }, this.host.env.clock.now());
    if (this.state.mode !== this.savedMode) await this.save();
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
      const [run] = await Promise.all([env.store.runs.get(this.id), mutation ? env.freezes?.refresh() : undefined]);
      const stop = run?.stopRequested;
      if (stop) {
        await this.stop(stop.reason);
        return failures.runHalted(this.state.reason ?? "stopped");
      }
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
    if (s.mode !== this.savedMode) {
      this.savedMode = s.mode;
      this.telemetry.modeChanged(s.mode, s.reason);
    }
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
