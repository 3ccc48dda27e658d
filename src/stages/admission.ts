/**
 * Admission: may this call start at all? Checks the run's state and limits, the freeze,
 * the destructive budget, the verification gate and the tool's breaker, cheapest first.
 * An escalation tool (the way to a person) passes every check but its breaker.
 * It is asked on a record of the run: the run reserves a step (and a destructive slot)
 * only if admission says yes on the freshest record in the store (see RunState.reserve).
 */
import { failures } from "../failure.js";
import { frozenAt } from "../policy.js";
import type { Call, Env, StageResult } from "../call.js";
import { gateAtApproval, gateReaders } from "../decide/gate.js";
import type { RunRecord } from "../store/types.js";

/**
 * `declared`: whether to look at the freezes declared at run time here; the run leaves
 * them to its gate when it reads them again from the store beside the claim. `readsHere`:
 * steps of reads this process has counted and not yet written into `r` (see RunState.reserve).
 */
export function admission(call: Call, env: Env, r: RunRecord = call.run.record, declared = true, readsHere = 0): StageResult {
  const { tool } = call;
  if (r.status === "ended") return failures.runHalted("the run has ended");
  const now = env.clock.now();
  // The way to a person (an escalation tool) is open in every mode and past every limit:
  // it is the one safe action left to a run that may do nothing else.
  const refused = tool.escalation ? undefined : limits(call, env, r, now, declared, readsHere);
  if (refused) return refused;
  // Only a look: the execute stage takes the half-open probe when it calls the tool.
  const verdict = env.health.for(tool).breaker?.peek(now);
  if (verdict && !verdict.allowed) return failures.breakerOpen(tool.name, verdict.failed, verdict.of, verdict.retryInMs, verdict.lastError);
  return undefined;
}

/** The run's state and limits: mode, deadline, steps, freeze, destructive budget, verification gate. */
function limits(call: Call, env: Env, r: RunRecord, now: number, declared: boolean, readsHere: number): StageResult {
  const { run, tool } = call;
  const { policy } = run;
  if (r.mode === "handed_off") return failures.handedOff(r.reason ?? "a person is taking over");
  if (r.mode === "halted") return failures.runHalted(r.reason ?? r.mode);
  if (now >= r.startedAt + (policy.deadlineMs ?? Infinity)) return failures.deadlineExceeded(policy.deadlineMs!);
  if (r.steps + readsHere >= policy.maxSteps) return failures.stepLimit(policy.maxSteps);
  if (tool.effect === "read") return undefined;
  if (r.mode === "read_only") return failures.readOnly(tool.name, r.reason ?? "confidence is low");
  const freeze = frozenAt(policy.freeze, now);
  if (freeze.frozen) return failures.frozen(tool.name, freeze.until);
  const declaredNow = declared ? env.freezes?.at(now) : undefined;
  if (declaredNow) return failures.frozen(tool.name, declaredNow.until, declaredNow.reason);
  if (tool.effect === "destructive" && r.destructive.used + r.destructive.inFlight.length >= policy.destructive.maxPerRun)
    return failures.destructiveBudgetExceeded(tool.name, policy.destructive.maxPerRun);
  // A call that may ask a person gets this check in the approval stage, after its
  // arguments are known: an approval is itself a verification gate.
  if (!gateAtApproval(tool, policy.rules) && r.unverifiedDepth >= policy.maxUnverifiedDepth) return failures.verificationRequired(tool.name, r.unverifiedDepth, gateReaders(r, env.tools?.values()));
  return undefined;
}
