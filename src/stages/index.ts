/**
 * The stages of a call, in the one order that is safe, and the loop that runs them. A
 * stage is a name and a step; a step returns nothing (go on), a failure (the call ends
 * with it, stamped with the stage) or a final outcome (a replay). A new stage is one file
 * and one line here. Why each is where it is:
 *
 *   admission       refuse early, before any work: the run's state and limits (asked on
 *                   the run's record in the store, where a step is reserved), the freeze,
 *                   budgets, the tool's breaker. A keyed change that asks no person sends
 *                   its claim beside these questions and acts on it only once they answer.
 *   validate-input  arguments are copied (bounded), then parsed before they are hashed into
 *                   a key, so that two spellings of one intent share a key.
 *   rules           the policy's rules over the parsed arguments and the run's facts;
 *                   before approval, so that no person is asked about a forbidden call.
 *   approval        after validate-input, because a person approves the parsed arguments
 *                   that will run; before idempotency, so no key is held while waiting.
 *   idempotency     before execute, so that a repeat never reaches the tool.
 *   checkpoint      after idempotency (a replay takes no second backup), right before
 *                   the action, once per call.
 *   execute         bulkhead, timeout, bounded retry under the retry budget.
 *   validate-output before anything trusts the response: facts, verify, the model.
 *   facts           reconcile the facts the response asserts with the run's ledger; before
 *                   verify, so that a read-back is not spent on stale or contradicted facts.
 *   verify          read-your-writes, on a response known to be well-formed.
 *
 * Record (the key, the ledger) and the run's settlement follow, once the outcome is final
 * (run.ts). In shadow mode a `shadowed` stage's refusal is written down on the call and the
 * call goes on as if Bulwark were absent (see shadow.ts); the others hold in every mode.
 */
import { staged, type Failure, type Outcome, type Stage as StageName } from "../failure.js";
import { admit } from "../admit.js";
import { judged } from "../shadow.js";
import type { Call, Env, Final, StageResult } from "../call.js";
import { isPromise, type Eventually } from "../eventually.js";
import { approval } from "./approval.js";
import { checkpoint } from "./checkpoint.js";
import { execute } from "./execute.js";
import { facts } from "./facts.js";
import { idempotency } from "./idempotency.js";
import { rules } from "./rules.js";
import { copyArguments, validateInput } from "./validate-input.js";
import { validateOutput } from "./validate-output.js";
import { verify } from "./verify.js";

export interface Stage {
  readonly name: StageName;
  /** Whether shadow mode writes this stage's refusal down instead of making it. */
  readonly shadowed: boolean;
  run(call: Call, env: Env): Eventually<StageResult | Final>;
}

export const STAGES: readonly Stage[] = [
  { name: "admission", shadowed: false, run: admit },
  // Arguments too deep or too large for Bulwark to handle are refused even in shadow mode.
  { name: "validate-input", shadowed: false, run: copyArguments },
  { name: "validate-input", shadowed: true, run: validateInput },
  { name: "rules", shadowed: true, run: rules },
  { name: "approval", shadowed: true, run: approval },
  { name: "idempotency", shadowed: false, run: idempotency },
  { name: "checkpoint", shadowed: true, run: checkpoint },
  { name: "execute", shadowed: false, run: executed },
  { name: "validate-output", shadowed: true, run: validateOutput },
  { name: "facts", shadowed: true, run: facts },
  { name: "verify", shadowed: true, run: verify },
];

/**
 * Run the stages in order; the call's outcome before record. A stage that answers
 * synchronously is followed at once by the next: the call waits (a promise) only where a
 * stage does. May throw (a bug in a stage).
 */
export function runStages(call: Call, env: Env, stages: readonly Stage[] = STAGES): Eventually<Outcome<unknown>> {
  return stagesFrom(call, env, stages, 0);
}

/** The stages from the `i`-th on (see runStages). */
function stagesFrom(call: Call, env: Env, stages: readonly Stage[], i: number): Eventually<Outcome<unknown>> {
  for (; i < stages.length; i++) {
    const stage = stages[i]!;
    const said = stage.run(call, env);
    if (isPromise(said)) return said.then((s) => ended(call, stage, s) ?? stagesFrom(call, env, stages, i + 1));
    const end = ended(call, stage, said);
    if (end) return end;
  }
  return outcomeOf(call);
}

/** What a stage said means for the call: go on (undefined), or its outcome. */
function ended(call: Call, stage: Stage, said: StageResult | Final): Eventually<Outcome<unknown>> | undefined {
  if (!said) return undefined;
  if ("outcome" in said) return said.outcome;
  const failure = staged(stage.name, said);
  if (stage.shadowed && !judged(call, failure)) return undefined;
  // A refusal from the questions sent beside the claim wins: the call was never admitted.
  const admitted = call.admitted?.();
  return admitted ? admitted.then((a) => outcomeOf(call, a ?? failure)) : outcomeOf(call, failure);
}

/** The call's outcome: failed with `failure`, or its response. */
export function outcomeOf(call: Call, failure?: Failure): Outcome<unknown> {
  const o: Outcome<unknown> = failure ? { ok: false, failure, callId: call.callId } : { ok: true, value: call.output, callId: call.callId, replayed: false };
  if (o.ok && call.notes) o.notes = call.notes;
  if (call.shadow) o.shadow = call.shadow;
  return o;
}

/** The execute stage; an attempt whose response was lost, seen to have landed by the probe, ends the call: nothing to check. */
function executed(call: Call, env: Env): Promise<StageResult | Final> {
  return execute(call, env).then((failure) =>
    failure || !call.recovered ? failure : { outcome: { ok: true, value: null, callId: call.callId, replayed: false, recovered: true, ...(call.shadow ? { shadow: call.shadow } : {}) } },
  );
}
