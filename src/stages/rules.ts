/**
 * Rules: the policy's rules and the tool's, over the parsed arguments and the run's facts
 * (see decide/rules.ts). A reason refuses the call as `policy_violation`; a rule that
 * asks for a person leaves its reason for the approval stage; a rule that cannot be
 * checked refuses the call. After validate-in (rules see the arguments that will run),
 * before approval (a person is not asked about a call the policy forbids) and before
 * idempotency and execute (nothing is claimed or done for a refused call).
 */
import { judge, ruleContext } from "../decide/judge.js";
import { rulesFor, verdictOf } from "../decide/rules.js";
import type { Call, Env, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

export function rules(call: Call, env: Env): Eventually<StageResult> {
  const list = rulesFor(call.tool, call.run.policy.rules);
  return list.length === 0 ? undefined : judged(call, env, list);
}

async function judged(call: Call, env: Env, list: ReturnType<typeof rulesFor>): Promise<StageResult> {
  const ctx = ruleContext(call, env);
  const asks: string[] = [];
  // In order, one at a time: the first refusal is the one the model is told about. A
  // request for approval does not stop the others: a later rule may still forbid the call.
  for (const { name, rule } of list) {
    const j = await judge((c) => rule(call.args, c), name, call, env, ctx);
    if (!j.ok) return j.failure;
    const v = verdictOf(j.value, name, call.tool.name);
    if (v && "failure" in v) return v.failure;
    if (v) asks.push(v.approval);
  }
  if (asks.length > 0) call.approvalAsked = asks.join("; ");
  return undefined;
}
