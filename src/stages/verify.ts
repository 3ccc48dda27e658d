/**
 * Verify: read-your-writes. After a write or destructive call succeeds, the tool's
 * `verify(args, output, ctx)` reads the state back; the call succeeds only if the effect
 * is confirmed. A mismatch, a probe that throws or one that times out is
 * `write_unverified`: a write that cannot be confirmed is never reported as success.
 * Tools without a probe pass, and deepen the run's unverified streak (see admission); a
 * read tool that declares `verifies` reads such writes back when it succeeds.
 */
import { attempt, AttemptContext } from "../attempt.js";
import { describeThrown, failures } from "../failure.js";
import { cancelOf, toolKey } from "../probe.js";
import type { Call, Env, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

export function verify(call: Call, env: Env): Eventually<StageResult> {
  // A read that declares the writes it verifies reads them back when the run settles it (decide/gate.ts).
  return call.tool.effect === "read" || !call.tool.spec.verify ? undefined : readBack(call, env);
}

async function readBack(call: Call, env: Env): Promise<StageResult> {
  const { tool, run } = call;
  const ctx = new AttemptContext(run.runId, call.callId, call.attempts, toolKey(call), call.fence);
  const probe = await attempt((c) => tool.spec.verify!(call.args, call.output, c), ctx, tool.timeoutMs, env.clock, cancelOf(call));
  if (probe.status === "ok" && probe.value === true) {
    call.verified = true;
    return undefined;
  }
  const reason =
    probe.status === "ok"
      ? typeof probe.value === "string" && probe.value
        ? probe.value
        : "the state read back does not match"
      : probe.status === "error"
        ? `the read-back failed: ${describeThrown(probe.error)}`
        : probe.status === "timeout"
          ? `the read-back did not answer within ${tool.timeoutMs}ms`
          : "the run was stopped during the read-back";
  call.verified = false;
  return failures.writeUnverified(tool.name, reason);
}
