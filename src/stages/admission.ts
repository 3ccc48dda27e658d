/**
 * Admission: may this call start at all? Checks the run's state and limits, the freeze,
 * the destructive budget, the verification gate and the tool's breaker, cheapest first.
 * An escalation tool (the way to a person) passes every check but its breaker.
 * Refuses with a failure; admits by reserving a step (and a destructive slot) that the
 * run gives back if the call turns out to be a replay or never executes.
 */
import { failures } from "../failure.js";
import { frozenAt } from "../policy.js";
import type { Call, Env, StageResult } from "../call.js";
import { gateReaders } from "../decide/gate.js";

export function admission(call: Call, env: Env): StageResult {
  const { run, tool } = call;
  if (run.ended) return failures.runHalted("the run has ended");
  const now = env.clock.now();
  // The way to a person (an escalation tool) is open in every mode and past every limit:
  // it is the one safe action left to a run that may do nothing else.
  const refused = tool.escalation ? undefined : limits(call, env, now);
  if (refused) return refused;
  // Only a look: the execute stage takes the half-open probe when it calls the tool.
  const verdict = env.health.for(tool).breaker?.peek(now);
  if (verdict && !verdict.allowed) return failures.breakerOpen(tool.name, verdict.failed, verdict.of, verdict.retryInMs, verdict.lastError);
  admit(call);
  return undefined;
}

/** The run's state and limits: mode, deadline, steps, freeze, destructive budget, verification gate. */
function limits(call: Call, env: Env, now: number): StageResult {
  const { run, tool } = call;
  const { policy } = run;
  if (run.mode === "handed_off") return failures.handedOff(run.reason ?? "a person is taking over");
  if (run.mode === "halted") return failures.runHalted(run.reason ?? run.mode);
  if (now >= run.deadlineAt) return failures.deadlineExceeded(policy.deadlineMs!);
  if (run.steps >= policy.maxSteps) return failures.stepLimit(policy.maxSteps);
  if (tool.effect !== "read") {
    if (run.mode === "read_only") return failures.readOnly(tool.name, run.reason ?? "confidence is low");
    const freeze = frozenAt(policy.freeze, now);
    if (freeze.frozen) return failures.frozen(tool.name, freeze.until);
    const declared = env.freezes?.at(now);
    if (declared) return failures.frozen(tool.name, declared.until, declared.reason);
    if (tool.effect === "destructive" && run.destructiveDone + run.destructivePending >= policy.destructive.maxPerRun)
      return failures.destructiveBudgetExceeded(tool.name, policy.destructive.maxPerRun);
    // A tool that may ask a person gets this check in the approval stage, after its
    // arguments are known: an approval is itself a verification gate.
    const mayAsk = tool.spec.approval !== undefined && tool.spec.approval !== "never";
    if (!mayAsk && run.unverifiedDepth >= policy.maxUnverifiedDepth) return failures.verificationRequired(tool.name, run.unverifiedDepth, gateReaders(run, env.tools?.values()));
  }
  return undefined;
}

/** Reserve the call's step (and destructive slot); shadow mode admits a refused call this way. */
export function admit({ run, tool }: Call): void {
  run.steps++;
  if (tool.effect === "destructive") run.destructivePending++;
}
