/**
 * Shadow mode (`createRuntime({ enforce: false })`, or per run): every stage decides as
 * usual, but a refusal is written down on the call instead of being made, and the call
 * goes on as if the guard were absent. The outcome carries what was written down
 * (`outcome.shadow`), and the runtime records it in the store. Teams run a new guard this
 * way on real traffic until they trust what it would stop.
 *
 * Not shadowed, because they are not the guard's judgement: a person's stop, a store
 * that cannot be reached before a mutation, arguments too deep or too large for Bulwark
 * to copy (validate-input's limits), and the idempotency stage (a replay still
 * replays; an effect is never run twice because enforcement is off).
 */
import type { Call, Env } from "./call.js";
import type { Failure, ShadowDecision } from "./failure.js";
import { redactArgs } from "./redact.js";

/**
 * A stage's verdict (stamped with its stage) under the run's enforcement: the failure itself when the run
 * enforces; otherwise nothing (go on), with the failure recorded on the call.
 */
export function judged(call: Call, failure: Failure | undefined): Failure | undefined {
  if (!failure || call.run.enforce) return failure;
  (call.shadow ??= []).push({ stage: failure.stage ?? "run", kind: failure.kind, message: failure.message });
  return undefined;
}

/**
 * Keep what a call would have been refused for in the store, for `GET /api/shadow` and
 * `bulwark shadow`. A write that fails is reported, never the call's failure.
 */
export async function recordShadow(env: Env, call: Call, decisions: readonly ShadowDecision[]): Promise<void> {
  const { tool, run } = call;
  const args = redactArgs(call.args, tool.spec.redact);
  const at = env.clock.now();
  try {
    await env.store.shadow.record(decisions.map((d) => ({ runId: run.runId, agent: run.agent, callId: call.callId, tool: tool.name, args, stage: d.stage, kind: d.kind, message: d.message, at })));
  } catch (e) {
    env.onError(e);
  }
}
