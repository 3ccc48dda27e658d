/**
 * Checkpoint: before a mutation runs, the tool's `checkpoint(args, ctx)` hook takes what
 * a person would need to restore the prior state (a backup, a snapshot id); what it
 * returns is recorded with the mutation. It fails closed: a checkpoint that throws, times
 * out or returns something that cannot be recorded means the action does not run.
 *
 * It runs after idempotency (a replayed call takes no second backup) and right before
 * execute, once per call, not once per retry.
 */
import { attempt, AttemptContext } from "../attempt.js";
import { assertJson, NotJsonError } from "../canonical-json.js";
import { describeThrown, failures } from "../failure.js";
import type { Call, Env, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

export function checkpoint(call: Call, env: Env): Eventually<StageResult> {
  return call.tool.effect === "read" || !call.tool.spec.checkpoint ? undefined : takeCheckpoint(call, env);
}

async function takeCheckpoint(call: Call, env: Env): Promise<StageResult> {
  const { tool, run } = call;
  const ctx = new AttemptContext(run.runId, call.callId, 0, call.key);
  const r = await attempt((c) => tool.spec.checkpoint!(call.args, c), ctx, tool.timeoutMs, env.clock, run.cancelSignal);
  if (r.status === "cancelled") return failures.stopped(r.reason);
  if (r.status === "timeout") return failures.checkpointFailed(tool.name, `it did not finish within ${tool.timeoutMs}ms`);
  if (r.status === "error") return failures.checkpointFailed(tool.name, describeThrown(r.error));
  const reference = r.value === undefined ? null : r.value;
  try {
    assertJson(reference);
  } catch (e) {
    if (e instanceof NotJsonError) return failures.checkpointFailed(tool.name, `its reference cannot be recorded (${e.message})`);
    throw e;
  }
  call.checkpoint = reference;
  return undefined;
}
