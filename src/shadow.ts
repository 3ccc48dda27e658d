/**
 * Shadow mode (`createRuntime({ enforce: false })`, or per run): every stage decides as
 * usual, but a refusal is written down on the call instead of being made, and the call
 * goes on as if the guard were absent. The outcome carries what was written down
 * (`outcome.shadow`), and the runtime records it in the store. Teams run a new guard this
 * way on real traffic until they trust what it would stop.
 *
 * Not shadowed, because they are not the guard's judgement: a person's stop, a store
 * that cannot be reached before a mutation, and the idempotency stage (a replay still
 * replays; an effect is never run twice because enforcement is off).
 */
import type { Call } from "./call.js";
import type { Failure } from "./failure.js";

/**
 * A stage's verdict (stamped with its stage) under the run's enforcement: the failure itself when the run
 * enforces; otherwise nothing (go on), with the failure recorded on the call.
 */
export function judged(call: Call, failure: Failure | undefined): Failure | undefined {
  if (!failure || call.run.enforce) return failure;
  (call.shadow ??= []).push({ stage: failure.stage ?? "run", kind: failure.kind, message: failure.message });
  return undefined;
}
