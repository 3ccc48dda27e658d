/**
 * The proxy's rule module, and the tool names its policy file gives. `rules: ./rules.mjs`
 * is imported when the proxy starts: a module that is missing, does not load or does not
 * export a list of rules stops the proxy before the server starts. The names the file and
 * the module use are MCP names, checked against the server's list once it is known.
 */
import { existsSync, statSync } from "node:fs";
import { extname } from "node:path";
import { pathToFileURL } from "node:url";
import type { Effect, PolicyRule, Rule } from "../index.js";
import { bulwarkToolName, effectOf, type McpToolDefinition } from "../adapters/mcp.js";
import { ProxyPolicyError, type ProxyPolicy } from "./proxy-policy.js";

export interface ProxyRules {
  /** As the run's policy takes them (`PolicyInput.rules`): `tools` by Bulwark name. */
  rules: PolicyRule[];
  /** The MCP names each rule lists, by its place in the module's list: checked against the server. */
  named: { index: number; name: string | undefined; tools: string[] }[];
}

const EFFECTS: readonly Effect[] = ["read", "write", "destructive"];
const FIELDS = new Set(["rule", "name", "tools", "effects"]);

/** Import the policy file's rule module (none: undefined); a `ProxyPolicyError` names the file and what is wrong. */
export async function loadRuleModule(policy: ProxyPolicy): Promise<ProxyRules | undefined> {
  const ref = policy.rules;
  if (!ref) return undefined;
  const at = policy.at(["rules"]);
  const module = `${at}the rule module ${ref.path}`;
  if (!existsSync(ref.path)) throw new ProxyPolicyError(`${at}no such file: ${ref.path} (${JSON.stringify(ref.given)} is taken from the policy file's folder)`);
  if (!statSync(ref.path).isFile()) throw new ProxyPolicyError(`${module} is not a file`);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(ref.path).href)) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: unknown })?.code === "ERR_UNKNOWN_FILE_EXTENSION")
      throw new ProxyPolicyError(`${module} does not load: Node does not import ${extname(ref.path)} files by itself; run the proxy with tsx (node --import tsx …) or compile the module to .mjs`);
    throw new ProxyPolicyError(`${module} does not load: ${e instanceof Error ? e.message : String(e)}`);
  }
  const list = exports.default;
  if (!Array.isArray(list)) {
    const others = Object.keys(exports).filter((k) => k !== "default");
    const got = !("default" in exports) ? `it has no default export${others.length ? ` (it exports ${others.join(", ")})` : ""}` : `its default export is ${kindOf(list)}`;
    throw new ProxyPolicyError(`${module} must export a list of rules as its default export (export default [rule, …]); ${got}`);
  }
  const rules: PolicyRule[] = [];
  const named: ProxyRules["named"] = [];
  list.forEach((r: unknown, i) => {
    const bad = (what: string): never => {
      throw new ProxyPolicyError(`${module}: rule ${i + 1} (default[${i}]) ${what}`);
    };
    if (typeof r === "function") return void rules.push(r as PolicyRule);
    if (typeof r !== "object" || r === null || Array.isArray(r)) return bad(`must be a function (args, ctx) => reason | undefined, or { rule, name?, tools?, effects? }, not ${kindOf(r)}`);
    const o = r as { rule?: unknown; name?: unknown; tools?: unknown; effects?: unknown };
    const unknown = Object.keys(o).filter((k) => !FIELDS.has(k));
    if (unknown.length > 0) bad(`has an unknown field ${unknown.join(", ")} (known: rule, name, tools, effects)`);
    if (typeof o.rule !== "function") bad(`needs rule: a function (args, ctx) => reason | undefined, not ${kindOf(o.rule)}`);
    if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) bad(`name must be a text`);
    if (o.tools !== undefined && !(Array.isArray(o.tools) && o.tools.length > 0 && o.tools.every((t) => typeof t === "string")))
      bad(`tools must be a list of MCP tool names, at least one (leave it out for every tool)`);
    if (o.effects !== undefined && !(Array.isArray(o.effects) && o.effects.length > 0 && o.effects.every((e) => EFFECTS.includes(e as Effect))))
      bad(`effects must be a list of read, write, destructive (leave it out for every effect)`);
    const tools = o.tools as string[] | undefined;
    if (tools) named.push({ index: i, name: o.name as string | undefined, tools });
    rules.push({
      rule: o.rule as Rule,
      ...(o.name !== undefined ? { name: o.name as string } : {}),
      ...(o.effects !== undefined ? { effects: o.effects as Effect[] } : {}),
      ...(tools ? { tools: tools.map((t) => bulwarkToolName(t, policy.prefix)) } : {}),
    });
  });
  return { rules, named };
}

function kindOf(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "function") return "a function (one rule: put it in a list)";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * What the file and its rule module say that only the server's tool list can confirm:
 * every tool they name (an override, a `verifies` entry, a rule's `tools`) is one the
 * server has, and a tool that verifies is a read. Each problem is a whole message.
 */
export function toolProblems(policy: ProxyPolicy, definitions: readonly McpToolDefinition[], rules?: ProxyRules): string[] {
  const listed = new Map(definitions.map((d) => [d.name, d]));
  const has = `(it has ${[...listed.keys()].join(", ") || "none"})`;
  const problems: string[] = [];
  for (const [name, o] of policy.tools) {
    const d = listed.get(name);
    if (!d) {
      problems.push(`${policy.at(["tools", name])}overrides name tools the server does not have: ${name} ${has}`);
      continue;
    }
    const verifies = Array.isArray(o.verifies) ? (o.verifies as readonly string[]) : [];
    verifies.forEach((v, i) => {
      if (!listed.has(v)) problems.push(`${policy.at(["tools", name, "verifies", i])}the server has no tool ${JSON.stringify(v)} to verify ${has}`);
    });
    const effect = o.effect ?? effectOf(d);
    if (o.verifies !== undefined && effect !== "read")
      problems.push(`${policy.at(["tools", name, "verifies"])}only a read tool verifies writes, and the server's annotations make ${name} ${effect === "write" ? "a write" : "destructive"} (say effect: read if it only reads)`);
  }
  for (const r of rules?.named ?? []) {
    const missing = r.tools.filter((t) => !listed.has(t));
    if (missing.length > 0)
      problems.push(`${policy.at(["rules"])}the rule module ${policy.rules?.path}: rule ${r.index + 1}${r.name ? ` (${r.name})` : ""} names tools the server does not have: ${missing.join(", ")} ${has}`);
  }
  return problems;
}
