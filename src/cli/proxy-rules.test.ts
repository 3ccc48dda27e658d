import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { McpToolDefinition } from "../adapters/mcp.js";
import { loadProxyPolicy, parseProxyPolicy, ProxyPolicyError } from "./proxy-policy.js";
import { loadRuleModule, toolProblems } from "./proxy-rules.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-proxy-rules-"));
  mkdirSync(join(dir, "guard"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A policy file in `dir` whose `rules:` names a module with `source` (or none). */
function policyWith(name: string, source: string | undefined, extra = "") {
  if (source !== undefined) writeFileSync(join(dir, "guard", name), source);
  return parseProxyPolicy(`prefix: fs.\n${extra}rules: ./guard/${name}\n`, join(dir, "p.yaml"));
}

async function refusal(name: string, source: string | undefined): Promise<string> {
  try {
    await loadRuleModule(policyWith(name, source));
  } catch (e) {
    expect(e).toBeInstanceOf(ProxyPolicyError);
    return (e as Error).message;
  }
  throw new Error("loaded");
}

const tool = (name: string, annotations?: McpToolDefinition["annotations"]): McpToolDefinition => ({ name, inputSchema: { type: "object" }, ...(annotations ? { annotations } : {}) });

describe("the proxy's rule module", () => {
  it("loads the default export's rules; a rule's tools are MCP names, mapped with the file's prefix", async () => {
    const loaded = await loadRuleModule(
      policyWith(
        "ok.mjs",
        [
          "export default [",
          "  function insideWork(args) { return String(args.path).startsWith('/work/') ? undefined : 'only under /work/'; },",
          "  { name: 'no-moves', tools: ['move_file', 'deploy/prod'], rule: () => 'no moves' },",
          "  { effects: ['destructive'], rule: () => ({ approval: 'destructive' }) },",
          "];",
        ].join("\n"),
      ),
    );
    expect(loaded?.rules).toHaveLength(3);
    expect(typeof loaded?.rules[0]).toBe("function");
    expect(loaded?.rules[1]).toMatchObject({ name: "no-moves", tools: ["fs.move_file", "fs.deploy:2f:prod"] });
    expect(loaded?.rules[2]).toMatchObject({ effects: ["destructive"] });
    expect(loaded?.named).toEqual([{ index: 1, name: "no-moves", tools: ["move_file", "deploy/prod"] }]);
    expect(await loadRuleModule(parseProxyPolicy("store: memory\n", "p.yaml"))).toBeUndefined();
  });

  it("a module that does not exist, does not load, or exports something else: the policy file, its line, the module and what is wrong", async () => {
    const at = `policy file ${join(dir, "p.yaml")}, line 2: rules: `;
    expect(await refusal("missing.mjs", undefined)).toBe(`${at}no such file: ${join(dir, "guard", "missing.mjs")} ("./guard/missing.mjs" is taken from the policy file's folder)`);
    const module = `${at}the rule module ${join(dir, "guard")}`;
    expect(await refusal("throws.mjs", "throw new Error('no config');\n")).toBe(`${module}/throws.mjs does not load: no config`);
    expect(await refusal("syntax.mjs", "export default [\n")).toMatch(/syntax\.mjs does not load: .*(unexpected|expected|syntax)/i);
    expect(await refusal("object.mjs", "export default { rule: () => 'no' };\n")).toBe(
      `${module}/object.mjs must export a list of rules as its default export (export default [rule, …]); its default export is an object`,
    );
    expect(await refusal("one.mjs", "export default () => 'no';\n")).toMatch(/its default export is a function \(one rule: put it in a list\)$/);
    expect(await refusal("named.mjs", "export const rules = [];\n")).toMatch(/named\.mjs must export a list of rules .*; it has no default export \(it exports rules\)$/);
    expect(await refusal("bad-item.mjs", "export default [() => undefined, 'no writes'];\n")).toMatch(/bad-item\.mjs: rule 2 \(default\[1\]\) must be a function .* not string "no writes"$/);
    expect(await refusal("typo.mjs", "export default [{ tool: ['write_file'], rule: () => 'x' }];\n")).toMatch(/rule 1 \(default\[0\]\) has an unknown field tool \(known: rule, name, tools, effects\)$/);
    expect(await refusal("no-rule.mjs", "export default [{ tools: ['write_file'] }];\n")).toMatch(/rule 1 \(default\[0\]\) needs rule: a function .* not undefined$/);
    expect(await refusal("tools.mjs", "export default [{ tools: 'write_file', rule: () => 'x' }];\n")).toMatch(/rule 1 \(default\[0\]\) tools must be a list of MCP tool names/);
    expect(await refusal("effects.mjs", "export default [{ effects: ['delete'], rule: () => 'x' }];\n")).toMatch(/rule 1 \(default\[0\]\) effects must be a list of read, write, destructive/);
    await expect(loadRuleModule(parseProxyPolicy("rules: ./guard\n", join(dir, "p.yaml")))).rejects.toThrow(/line 1: rules: the rule module .*guard is not a file$/);
  });
});

describe("the names a policy file gives, against the server's tools", () => {
  const server = [tool("read_text_file", { readOnlyHint: true }), tool("write_file", { destructiveHint: true }), tool("edit_file")];

  it("every override, verifies entry and rule tool is one the server has, with the file's line; a tool that verifies is a read", async () => {
    const policy = policyWith(
      "names.mjs",
      "export default [{ name: 'outside', tools: ['write_file', 'write_files'], rule: () => undefined }];\n",
      ["tools:", "  read_text_file:", "    verifies: [write_file, wrtie_file]", "  write_file: { verifies: [edit_file] }", "  drop_database: { approval: always }", ""].join("\n"),
    );
    const rules = await loadRuleModule(policy);
    const problems = toolProblems(policy, server, rules);
    const file = `policy file ${join(dir, "p.yaml")}`;
    expect(problems).toEqual([
      `${file}, line 4: tools.read_text_file.verifies.1: the server has no tool "wrtie_file" to verify (it has read_text_file, write_file, edit_file)`,
      `${file}, line 5: tools.write_file.verifies: only a read tool verifies writes, and the server's annotations make write_file destructive (say effect: read if it only reads)`,
      `${file}, line 6: tools.drop_database: overrides name tools the server does not have: drop_database (it has read_text_file, write_file, edit_file)`,
      `${file}, line 7: rules: the rule module ${join(dir, "guard", "names.mjs")}: rule 1 (outside) names tools the server does not have: write_files (it has read_text_file, write_file, edit_file)`,
    ]);
    expect(toolProblems(parseProxyPolicy("tools:\n  edit_file: { effect: read, verifies: [write_file] }\n", "q.yaml"), server)).toEqual([]);
  });
});

describe("README", () => {
  it("the proxy section's policy file and rule module load, and name only the help desk's tools", async () => {
    const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");
    const yaml = /```yaml\n(# support\.yaml[\s\S]*?)```/.exec(readme)?.[1];
    const js = /```js\n(\/\/ support-rules\.mjs[\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    expect(js).toBeDefined();
    const readmeDir = mkdtempSync(join(dir, "readme-"));
    writeFileSync(join(readmeDir, "support.yaml"), yaml!);
    writeFileSync(join(readmeDir, "support-rules.mjs"), js!);
    const policy = loadProxyPolicy(join(readmeDir, "support.yaml"));
    expect(policy.tools.get("transfer_to_human")).toEqual({ escalation: true });
    const rules = await loadRuleModule(policy);
    const desk = [tool("get_ticket", { readOnlyHint: true }), tool("update_ticket"), tool("refund_order"), tool("close_tickets"), tool("transfer_to_human")];
    expect(toolProblems(policy, desk, rules)).toEqual([]);
    const limit = rules!.rules[0] as { rule: (args: unknown) => unknown };
    expect(limit.rule({ cents: 60_000 })).toEqual({ approval: "a refund over $500" });
    expect(limit.rule({ cents: 600 })).toBeUndefined();
  });
});
