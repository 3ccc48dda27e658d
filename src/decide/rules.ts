/**
 * Rules: a business's policy as code, checked at the boundary before a call runs. A rule
 * is a function of the parsed arguments and a context with the run's reconciled facts; it
 * returns nothing (allowed), a reason (refused as `policy_violation`), or
 * `{ approval: reason }` (a person must approve, and sees the reason). Rules come from the
 * tool (`rules`) and from the run's policy (`policy.rules`, across tools, by name or
 * effect). The same context is what an `approval` predicate gets.
 *
 * A rule fails closed: one that throws, times out or returns anything else refuses the
 * call, with a failure that says so. A rule that needs a fact the run has not read asks
 * for it (`ctx.require(key, "read the reservation first")`): that refusal tells the model
 * what to read, and the same call goes through once it has.
 */
import { attempt, AttemptContext } from "../attempt.js";
import type { Call, Env } from "../call.js";
import { preview } from "../canonical-json.js";
import { describeThrown, failures, type Failure } from "../failure.js";
import type { Effect, Tool } from "../tool.js";
import type { CallSummary } from "./handoff.js";
import type { ReconciledFact } from "./ledger.js";

/** What a rule (or an approval predicate) sees besides the arguments. */
export interface RuleContext {
  readonly runId: string;
  readonly agent: string;
  readonly callId: string;
  readonly tool: { readonly name: string; readonly effect: Effect };
  /** The runtime's clock, epoch ms. */
  readonly now: number;
  /** The run's reconciled fact for `key`; undefined when the run has not read it or its sources disagree. */
  fact(key: string): ReconciledFact | undefined;
  /**
   * The run's reconciled fact for `key`. When the run has not read it, the call is refused
   * with `how` telling the model what to do first (e.g. "call get_reservation for this
   * booking"), and the same call goes through once it has; when its sources disagree, the
   * call is refused.
   */
  require(key: string, how?: string): ReconciledFact;
  /** The run's latest calls (up to 10), oldest first. */
  readonly calls: readonly CallSummary[];
}

/** Nothing: allowed. A reason: refused. `{ approval: reason }`: a person decides. */
export type RuleVerdict = string | undefined | { approval: string };

export type Rule<I = any> = (args: I, ctx: RuleContext) => RuleVerdict | Promise<RuleVerdict>;

/** A rule on a tool: a function, or a function with a name for messages. */
export type ToolRule<I = any> = Rule<I> | { name: string; rule: Rule<I> };

/** A rule in a run's policy: for every call, or for the named tools and effects. */
export type PolicyRule = Rule | { name?: string; tools?: readonly string[]; effects?: readonly Effect[]; rule: Rule };


/** A rule, with the name its messages use. */
export interface NamedRule {
  name: string;
  rule: Rule;
}

/** The rules that apply to a call of `tool`: the policy's first, then the tool's. */
export function rulesFor(tool: Tool, policyRules: readonly PolicyRule[] | undefined): NamedRule[] {
  const out: NamedRule[] = [];
  (policyRules ?? []).forEach((r, i) => {
    if (typeof r === "function") out.push({ name: r.name || `policy rule ${i + 1}`, rule: r });
    else if ((!r.tools || r.tools.includes(tool.name)) && (!r.effects || r.effects.includes(tool.effect)))
      out.push({ name: r.name ?? `policy rule ${i + 1}`, rule: r.rule });
  });
  (tool.spec.rules ?? []).forEach((r, i) => {
    if (typeof r === "function") out.push({ name: r.name || `${tool.name} rule ${i + 1}`, rule: r });
    else out.push(r);
  });
  return out;
}

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

/** A rule's verdict, checked: anything but nothing, a reason or `{ approval: reason }` fails closed. */
export function verdictOf(value: unknown, name: string, tool: string): { failure: Failure } | { approval: string } | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value.trim() !== "") return { failure: failures.policyViolation(tool, name, value) };
  const approval = typeof value === "object" && value !== null ? (value as { approval?: unknown }).approval : undefined;
  if (typeof approval === "string" && approval.trim() !== "") return { approval };
  return { failure: failures.ruleFailed(tool, name, `it returned ${preview(value, 80)}, not undefined, a reason or { approval: reason }`) };
}
