/**
 * The policy file of `bulwark proxy` (YAML or JSON): the store, the run policy and
 * per-tool overrides. `loadProxyPolicy` checks it all before the proxy starts; a broken
 * file is a `ProxyPolicyError` naming the file, the line and the field; what only the
 * server can confirm (the tools it names) is checked against its list (proxy-rules.ts `toolProblems`),
 * and the rule module (`rules:`) is loaded by proxy-rules.ts. Tool names are
 * the server's, so they come back in a Map, and a `__proto__` key is refused anywhere.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, isMap, isScalar, parseDocument, visit, type Document } from "yaml";
import { z } from "zod";
import { readInstant, type PolicyInput } from "../index.js";
import type { McpToolOverride } from "../adapters/mcp.js";
import { DEFAULT_STORE } from "./shared.js";

/** The proxy's store unless the file names one: every command's default. */
export const DEFAULT_PROXY_STORE = DEFAULT_STORE;

export interface ProxyPolicy {
  /** Where the file is: relative SQLite paths are taken from its folder. */
  file: string;
  store: string;
  agent?: string;
  runId?: string;
  prefix?: string;
  run: PolicyInput;
  tools: Map<string, McpToolOverride>;
  /** The rule module (`rules:`), resolved from the file's folder; loaded by proxy-rules.ts. */
  rules?: { path: string; given: string };
  /** The line of a field (e.g. ["tools", "read_file", "verifies", 0]), for messages after parsing. */
  lineOf(path: (string | number)[]): number | undefined;
  /** "policy file <file>, line <n>: <field>: " for the field at `path`. */
  at(path: (string | number)[]): string;
}

/** A policy file is a page of settings: anything larger is a mistake (or /dev/zero). */
export const MAX_POLICY_BYTES = 1024 * 1024;

export class ProxyPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyPolicyError";
  }
}

const time = z.union([z.number(), z.string()]);
const ms = z.number().positive();
const whole = (min: number) => z.number().int().min(min);

const freezeWindow = z
  .object({ from: time, to: time })
  .strict()
  .superRefine((w, ctx) => {
    const from = readInstant(w.from);
    const to = readInstant(w.to);
    if ("problem" in from) ctx.addIssue({ code: "custom", path: ["from"], message: from.problem });
    else if ("problem" in to) ctx.addIssue({ code: "custom", path: ["to"], message: to.problem });
    else if (to.ms <= from.ms) ctx.addIssue({ code: "custom", path: ["to"], message: `the window ends (${new Date(to.ms).toISOString()}) before it starts (${new Date(from.ms).toISOString()})` });
  });

const runSchema = z
  .object({
    maxSteps: whole(1),
    deadlineMs: ms,
    maxConsecutiveFailures: whole(1),
    maxUnverifiedDepth: whole(1),
    destructive: z.object({ maxPerRun: whole(0) }).strict(),
    freeze: z.union([z.boolean(), z.array(freezeWindow)]),
    maxFactAgeMs: ms,
    approvalWaitMs: z.number().min(0),
    ruleTimeoutMs: ms,
  })
  .partial()
  .strict();

const toolSchema = z
  .object({
    effect: z.enum(["read", "write", "destructive"]),
    timeoutMs: ms,
    retry: z.union([z.literal(false), z.object({ maxAttempts: whole(1), baseDelayMs: z.number().min(0), maxDelayMs: z.number().min(0) }).partial().strict()]),
    breaker: z.union([
      z.literal(false),
      z.object({ windowSize: whole(1), failureRate: z.number().gt(0).max(1), minCalls: whole(1), halfOpenAfterMs: z.number().min(0) }).partial().strict(),
    ]),
    concurrency: whole(1),
    approval: z.enum(["always", "never"]),
    retryErrorResults: z.boolean(),
    verifies: z.array(z.string()),
    escalation: z.boolean(),
  })
  .partial()
  .strict()
  .superRefine((t, ctx) => {
    if (t.verifies !== undefined && t.effect !== undefined && t.effect !== "read")
      ctx.addIssue({ code: "custom", path: ["verifies"], message: `only a read tool verifies writes (this one is set to effect: ${t.effect})` });
  });

const fileSchema = z
  .object({
    store: z.string().min(1),
    agent: z.string().min(1),
    runId: z.string().min(1),
    prefix: z.string(),
    run: runSchema,
    tools: z.record(z.string(), toolSchema),
    rules: z.string().min(1),
  })
  .partial()
  .strict();

/** Read and check a policy file; throws a `ProxyPolicyError` that says where and what. */
export function loadProxyPolicy(file: string): ProxyPolicy {
  let text: string;
  try {
    text = readCapped(file, MAX_POLICY_BYTES);
  } catch (e) {
    if (e instanceof ProxyPolicyError) throw e;
    throw new ProxyPolicyError(`policy file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseProxyPolicy(text, file);
}

/** At most `max` bytes, read in a bounded loop: a device or pipe that never ends is refused, not waited for. */
function readCapped(file: string, max: number): string {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > max) throw new ProxyPolicyError(`policy file ${file}: larger than ${max / 1024} KiB; a policy file is a page of settings`);
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
}

export function parseProxyPolicy(text: string, file: string): ProxyPolicy {
  // JSON is YAML too; one parser gives line numbers for both.
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const at = syntax.linePos?.[0];
    throw new ProxyPolicyError(`policy file ${file}${at ? `, line ${at.line}` : ""}: not valid YAML or JSON: ${syntax.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`);
  }
  // `__proto__` as a key would set a prototype, not name a tool: refused before anything reads it.
  let proto: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "__proto__") {
        proto = pair.key.range ? lines.linePos(pair.key.range[0]).line : 0;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (proto !== undefined) throw new ProxyPolicyError(`policy file ${file}${proto ? `, line ${proto}` : ""}: "__proto__" cannot be a key here (not a tool name, nor a setting)`);
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== "object" || Array.isArray(data))
    throw new ProxyPolicyError(`policy file ${file}: expected a mapping of store, agent, runId, prefix, run, tools and rules, got ${JSON.stringify(data)}`);
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = flatten(parsed.error.issues).flatMap((i) => describe(doc, lines, file, i));
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ProxyPolicyError(problems.map((p) => p.text).join("\n"));
  }
  const p = parsed.data;
  const tools = new Map(Object.entries(p.tools ?? {}) as [string, McpToolOverride][]);
  const where = (path: (string | number)[]) => lineOf(doc, lines, path);
  return {
    file,
    store: storeFrom(p.store ?? DEFAULT_PROXY_STORE, file),
    ...(p.agent !== undefined ? { agent: p.agent } : {}),
    ...(p.runId !== undefined ? { runId: p.runId } : {}),
    ...(p.prefix !== undefined ? { prefix: p.prefix } : {}),
    run: (p.run ?? {}) as PolicyInput,
    tools,
    ...(p.rules !== undefined ? { rules: { path: resolve(dirname(resolve(file)), p.rules), given: p.rules } } : {}),
    lineOf: where,
    at: (path) => {
      const line = where(path);
      return `policy file ${file}${line ? `, line ${line}` : ""}: ${path.join(".")}: `;
    },
  };
}

/** `sqlite:<relative path>` is taken from the policy file's folder: MCP clients start servers in any directory. */
function storeFrom(store: string, file: string): string {
  if (!store.startsWith("sqlite:")) return store;
  const path = store.slice("sqlite:".length);
  if (path === "" || path === ":memory:" || isAbsolute(path)) return store;
  return `sqlite:${resolve(dirname(resolve(file)), path)}`;
}

type Issue = { path: PropertyKey[]; message: string; code?: string; keys?: string[] };

/** A union's issues are those of the branch that got furthest (the one the author meant). */
function flatten(issues: readonly z.core.$ZodIssue[], base: PropertyKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const depth = (branch: readonly z.core.$ZodIssue[]) => Math.max(...branch.map((i) => i.path.length + (i.code === "invalid_type" ? 0 : 1)));
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
      if (depth(best) > 0) {
        out.push(...flatten(best, path));
        continue;
      }
      out.push({ path, message: issue.errors.map((b) => b[0]?.message.replace(/^Invalid input: /, "")).join(", or ") });
      continue;
    }
    out.push({ path, message: issue.message, code: issue.code, ...(issue.code === "unrecognized_keys" ? { keys: issue.keys } : {}) });
  }
  return out;
}

const KNOWN: Record<string, string> = {
  "": "store, agent, runId, prefix, run, tools, rules",
  run: "maxSteps, deadlineMs, maxConsecutiveFailures, maxUnverifiedDepth, destructive, freeze, maxFactAgeMs, approvalWaitMs, ruleTimeoutMs",
  tool: "effect, timeoutMs, retry, breaker, concurrency, approval, retryErrorResults, verifies, escalation",
};

function describe(doc: Document, lines: LineCounter, file: string, issue: Issue): { line: number | undefined; text: string }[] {
  const path = issue.path.map((k) => (typeof k === "symbol" ? String(k) : k)) as (string | number)[];
  if (issue.code === "unrecognized_keys" && issue.keys) {
    return issue.keys
      .map((key) => {
        const line = lineOf(doc, lines, path, key);
        const field = [...path, key].join(".");
        const kind = path.length === 0 ? "" : path[0] === "run" && path.length === 1 ? "run" : path[0] === "tools" && path.length === 2 ? "tool" : undefined;
        const known = kind !== undefined ? ` (known: ${KNOWN[kind]})` : "";
        return { line, text: `policy file ${file}${line ? `, line ${line}` : ""}: ${field}: unknown field${known}` };
      });
  }
  const line = lineOf(doc, lines, path);
  return [{ line, text: `policy file ${file}${line ? `, line ${line}` : ""}: ${path.join(".") || "(top level)"}: ${issue.message.replace(/^Invalid input: /, "")}` }];
}

function lineOf(doc: Document, lines: LineCounter, path: (string | number)[], key?: string): number | undefined {
  try {
    if (key !== undefined) {
      const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
      if (isMap(map)) {
        const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
        if (range) return lines.linePos(range[0]).line;
      }
    }
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null)?.range;
      if (range) return lines.linePos(range[0]).line;
    }
  } catch {
    // no position: the message still names the field
  }
  return undefined;
}
