/**
 * A call's end: its outcome recorded (the key, the ledger: stages/record.ts) and the run's
 * state settled (steps, chain, depth, confidence: run-state.ts), then what follows from it
 * (a handoff published, an escalation handing the run off). A call that changed nothing
 * of the run's state and has nothing to write (a successful read) is settled at once.
 */
import type { Call, Env } from "./call.js";
import type { Attributes } from "@opentelemetry/api";
import { callPenalty } from "./decide/confidence.js";
import { readBackOf } from "./decide/gate.js";
import { escalationReason } from "./decide/handoff.js";
import { isPromise, type Eventually } from "./eventually.js";
import { staged, type Failure, type Outcome } from "./failure.js";
import { redactArgs } from "./redact.js";
import type { Settled } from "./run-record.js";
import type { RunState } from "./run-state.js";
import { outcomeOf } from "./stages/index.js";
import { record, recordMutation } from "./stages/record.js";
import type { HandoffRecord } from "./store/types.js";
import type { DecisionName } from "./telemetry/tracing.js";

/** What settling a call needs of its run. */
export interface SettlingRun {
  readonly state: RunState;
  readonly env: Env;
  newId(): string;
  /** A decision, told on the run's span. */
  decision(name: DecisionName, attributes: Attributes): void;
  /** A handoff record this settlement made, published to the store's queue. */
  published(rec: HandoffRecord | undefined): Promise<unknown>;
  handOff(reason: string): Promise<HandoffRecord>;
}

/** The outcome recorded and the run's state settled; at once when neither has anything to wait for (a read). */
export function settleCall(run: SettlingRun, call: Call, outcome: Outcome<unknown>): Eventually<Outcome<unknown>> {
  const { env } = run;
  const { tool } = call;
  const s = run.state;
  if (outcome.replayed) return replayed(run, call, outcome);
  if (call.admissionRefused) return refusedAtAdmission(run, call, outcome, call.admissionRefused);
  s.called(call, outcome, env.clock.now());
  let penalty: { amount: number; reason: string } | undefined;
  try {
    penalty = callPenalty(tool.effect, outcome, call.verified, s.policy.confidence.penalties);
  } catch (e) {
    env.onError(e);
  }
  // The key and ledger and the run's own state, written at once (one transaction on a
  // store that commits a turn's writes together).
  const settled: Settled = { callId: call.callId, tool: tool.name, effect: tool.effect, executed: call.executed };
  if (call.verified !== undefined) settled.verified = call.verified;
  // A change's arguments are remembered only while it is unverified (see run-record.ts
  // `settled`): a verified one's are not redacted for nothing.
  if (tool.effect !== "read") {
    if (call.verified !== true) settled.args = redactArgs(call.args, tool.spec.redact);
  } else {
    const readBack = readBackOf(tool, call.args);
    if (readBack !== undefined) settled.readBack = readBack;
  }
  let handoff: Eventually<HandoffRecord | undefined>;
  try {
    handoff = s.settle(settled, outcome.ok ? undefined : outcome.failure, penalty && { amount: penalty.amount, why: penalty.reason }, run.newId);
  } catch (e) {
    handoff = Promise.reject(e);
  }
  const recorded = record(call, outcome, env, () => call.step ?? 0);
  // The common case, a call that changed nothing of the run's state and has nothing to
  // wait for (a successful read): done now.
  if (handoff === undefined && !penalty && !isPromise(recorded) && !(!recorded.ok && outcome.ok) && !tool.escalation) {
    call.settleDuplicates?.(recorded);
    return recorded;
  }
  const settling = Promise.resolve(handoff).then(
    (h) => {
      if (penalty) run.decision("confidence_lowered", { "bulwark.confidence": s.confidence, "bulwark.reason": `${tool.name}: ${penalty.reason}` });
      return run.published(h);
    },
    (e) => void env.onError(e),
  );
  return afterRecord(run, call, outcome, recorded, settling);
}

async function afterRecord(run: SettlingRun, call: Call, outcome: Outcome<unknown>, recording: Eventually<Outcome<unknown>>, settling: Promise<unknown>): Promise<Outcome<unknown>> {
  const { env } = run;
  const { tool } = call;
  const recorded = await recording;
  call.settleDuplicates?.(recorded);
  await settling;
  // The claim was lost while the call ran (rare): the run counts the failure it became.
  if (!recorded.ok && outcome.ok) await run.state.refuse(tool.name, recorded.failure).catch(env.onError);
  if (tool.escalation) await run.handOff(escalationReason(tool.name, call.args, tool.spec.redact)).catch(env.onError);
  return recorded;
}

/**
 * Replays use no step, budget or depth. An effect found by the probe after its owner
 * died was never recorded: it enters the ledger now, for rollback.
 */
async function replayed(run: SettlingRun, call: Call, outcome: Outcome<unknown>): Promise<Outcome<unknown>> {
  const { env } = run;
  if (call.step !== undefined) await run.state.release(call.callId, call.tool.effect === "destructive").catch(env.onError);
  if (call.recovered) await recordMutation(call, env, call.step ?? 0);
  run.state.called(call, outcome, env.clock.now());
  return outcome;
}

/** Refused at admission, and counted there; a claim sent beside its questions is given back. */
async function refusedAtAdmission(run: SettlingRun, call: Call, outcome: Outcome<unknown>, failure: Failure): Promise<Outcome<unknown>> {
  await record(call, outcome, run.env, () => 0);
  call.settleDuplicates?.(outcome);
  return refused(run, call, failure);
}

/** A refusal at admission, already counted: it goes into the run's history. */
function refused(run: SettlingRun, call: Call, failure: Failure): Outcome<unknown> {
  staged("admission", failure);
  run.state.called(call, { ok: false, failure, callId: call.callId }, run.env.clock.now());
  return outcomeOf(call, failure);
}

