/**
 * A rule (or an approval predicate) judged for a call: the context it sees (the run's
 * reconciled facts, its latest calls, the clock) and the time limit it runs under. A rule
 * fails closed: one that throws, times out or is cut short by a stopped run refuses the
 * call; a fact the run lacks is the failure that asks for it. What a rule is, and what its
 * answer means, is in decide/rules.ts.
 */
import { attempt, AttemptContext } from "../attempt.js";
import type { Call, Env } from "../call.js";
import { describeThrown, failures, type Failure } from "../failure.js";
import type { RuleContext } from "./rules.js";

/** Thrown by `ctx.require` for a fact the run cannot give; turned into the failure that asks for it. */
class FactUnavailable {
  constructor(
    readonly key: string,
    readonly how: string | undefined,
    readonly contested: string[] | undefined,
  ) {}
}

/** The context of a call's rules and approval predicate. */
export function ruleContext(call: Call, env: Env): RuleContext {
  const { run, tool } = call;
  const fact = (key: string) => run.ledger?.get(key);
  return {
    runId: run.runId,
    agent: run.agent,
    callId: call.callId,
    tool: { name: tool.name, effect: tool.effect },
    now: env.clock.now(),
    fact,
    require(key, how) {
      const f = fact(key);
      if (f) return f;
      throw new FactUnavailable(key, how, run.ledger?.contested(key)?.map((c) => c.source));
    },
    get calls() {
      return run.history?.lastCalls ?? [];
    },
  };
}

export type Judgement = { ok: true; value: unknown } | { ok: false; failure: Failure };

/**
 * Call `fn` (a rule or an approval predicate) under the rule time limit; a throw, a
 * timeout or a stopped run is a failure (closed), a fact the run lacks is the failure
 * that asks for it. What it returned is for the caller to judge.
 */
export async function judge(fn: (ctx: RuleContext) => unknown, name: string, call: Call, env: Env, ctx: RuleContext): Promise<Judgement> {
  const limit = call.run.policy.ruleTimeoutMs;
  const r = await attempt(() => fn(ctx), new AttemptContext(call.run.runId, call.callId, 1, undefined), limit, env.clock, call.run.cancelSignal);
  const tool = call.tool.name;
  switch (r.status) {
    case "ok":
      return { ok: true, value: r.value };
    case "timeout":
      return { ok: false, failure: failures.ruleFailed(tool, name, `it did not answer within ${limit}ms (policy ruleTimeoutMs)`) };
    case "cancelled":
      return { ok: false, failure: failures.stopped(r.reason) };
    case "error": {
      const e = r.error;
      if (!(e instanceof FactUnavailable)) return { ok: false, failure: failures.ruleFailed(tool, name, `it threw: ${describeThrown(e)}`) };
      return { ok: false, failure: e.contested ? failures.factContested(tool, name, e.key, e.contested) : failures.factNeeded(tool, name, e.key, e.how) };
    }
  }
}
