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
 *
 * Here: what a rule is, which rules apply to a call and what a verdict means. A rule is run
 * for a call by decide/judge.ts. Neither this module nor the rules' types import the tool
 * types or the call: tool.ts is written in terms of them.
 */
import { preview } from "../canonical-json.js";
import type { Effect } from "../effect.js";
import { failures, type Failure } from "../failure.js";
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

/** The rules that apply to a call of `tool` (a Tool): the policy's first, then the tool's. */
type RuledTool = { readonly name: string; readonly effect: Effect; readonly spec: { readonly rules?: readonly ToolRule[] | undefined } };

/** Whether the policy rule `r` applies to calls of `tool` (by its tools and effects, if it names any). */
const appliesTo = (r: PolicyRule, tool: RuledTool) => typeof r === "function" || ((!r.tools || r.tools.includes(tool.name)) && (!r.effects || r.effects.includes(tool.effect)));

/** Whether any rule applies to calls of `tool` (without making the list: asked at admission). */
export function hasRules(tool: RuledTool, policyRules: readonly PolicyRule[] | undefined): boolean {
  return (tool.spec.rules?.length ?? 0) > 0 || (policyRules ?? []).some((r) => appliesTo(r, tool));
}

export function rulesFor(tool: RuledTool, policyRules: readonly PolicyRule[] | undefined): NamedRule[] {
  const out: NamedRule[] = [];
  (policyRules ?? []).forEach((r, i) => {
    if (!appliesTo(r, tool)) return;
    if (typeof r === "function") out.push({ name: r.name || `policy rule ${i + 1}`, rule: r });
    else out.push({ name: r.name ?? `policy rule ${i + 1}`, rule: r.rule });
  });
  (tool.spec.rules ?? []).forEach((r, i) => {
    if (typeof r === "function") out.push({ name: r.name || `${tool.name} rule ${i + 1}`, rule: r });
    else out.push(r);
  });
  return out;
}

/** A rule's verdict, checked: anything but nothing, a reason or `{ approval: reason }` fails closed. */
export function verdictOf(value: unknown, name: string, tool: string): { failure: Failure } | { approval: string } | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value.trim() !== "") return { failure: failures.policyViolation(tool, name, value) };
  const approval = typeof value === "object" && value !== null ? (value as { approval?: unknown }).approval : undefined;
  if (typeof approval === "string" && approval.trim() !== "") return { approval };
  return { failure: failures.ruleFailed(tool, name, `it returned ${preview(value, 80)}, not undefined, a reason or { approval: reason }`) };
}
