/**
 * The tool's `verify` probe asked one question: has the call's effect taken place? Used
 * where no response can say: a claim whose owner died or gave up, an attempt that may have
 * landed, a recorded effect that may have been undone since. `undefined` when the probe
 * cannot tell (it threw, timed out, or the run was stopped), so that the caller can keep
 * the claim rather than guess.
 */
import { attempt, AttemptContext, type Cancel } from "./attempt.js";
import { describeThrown } from "./failure.js";
import type { Call, Env } from "./call.js";

export type ProbeAnswer = { seen: boolean } | { unknown: string };

/** Ask the probe with `output` (undefined when there is none) and the key the tool was given. */
export async function probeEffect(call: Call, env: Env, output: unknown, key: string | undefined): Promise<ProbeAnswer> {
  const { tool, run } = call;
  const ctx = new AttemptContext(run.runId, call.callId, 0, key, call.fence);
  const r = await attempt((c) => tool.spec.verify!(call.args, output, c), ctx, tool.timeoutMs, env.clock, cancelOf(call));
  if (r.status === "ok") return { seen: r.value === true };
  return { unknown: r.status === "error" ? describeThrown(r.error) : r.status === "timeout" ? `no answer within ${tool.timeoutMs}ms` : "the run was stopped" };
}

/** What a tool is given as ctx.idempotencyKey for a generation of its key (see IdempotencyRecord.generation). */
export function effectKey(key: string, generation: number): string {
  return generation === 0 ? key : `${key}#${generation + 1}`;
}

/**
 * What cancels the call's work: its run stopping (except for an escalation, the way to a
 * person, which a stop must not cut), its runtime closing, or its claim found lost.
 */
export function cancelOf(call: Call): Cancel | undefined {
  return call.lease ?? (call.tool.escalation ? call.run.closing : call.run.cancelSignal);
}

/** The call's ctx.idempotencyKey. */
export function toolKey(call: Call): string | undefined {
  return call.key === undefined ? undefined : effectKey(call.key, call.generation ?? 0);
}
