import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_PROXY_STORE, loadProxyPolicy, parseProxyPolicy, ProxyPolicyError } from "./proxy-policy.js";

describe("proxy policy file", () => {
  it("reads YAML: store, run policy and per-tool overrides", () => {
    const p = parseProxyPolicy(
      [
        "store: memory",
        "agent: desk",
        "run:",
        "  maxSteps: 20",
        "  destructive: { maxPerRun: 1 }",
        "  freeze: [{ from: 2025-07-18T00:00:00Z, to: 2025-07-19T00:00:00Z }]",
        "tools:",
        "  delete_entities: { effect: destructive, approval: always, retry: false, concurrency: 1, timeoutMs: 2000 }",
      ].join("\n"),
      "p.yaml",
    );
    expect(p.store).toBe("memory");
    expect(p.agent).toBe("desk");
    expect(p.run).toEqual({ maxSteps: 20, destructive: { maxPerRun: 1 }, freeze: [{ from: "2025-07-18T00:00:00Z", to: "2025-07-19T00:00:00Z" }] });
    expect(p.tools.get("delete_entities")).toEqual({ effect: "destructive", approval: "always", retry: false, concurrency: 1, timeoutMs: 2000 });
  });

  it("reads JSON, and takes a relative SQLite path from the file's folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-policy-"));
    try {
      writeFileSync(join(dir, "p.json"), JSON.stringify({ run: { freeze: true } }));
      const p = loadProxyPolicy(join(dir, "p.json"));
      expect(p.run).toEqual({ freeze: true });
      expect(DEFAULT_PROXY_STORE).toBe("sqlite:.bulwark/bulwark.db");
      expect(p.store).toBe(`sqlite:${join(dir, ".bulwark/bulwark.db")}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the file, the line and the field of every problem, in line order", () => {
    const text = ["run:", "  maxStep: 5", "  destructive: { maxPerRun: -1 }", "tools:", "  x: { retry: { maxAttempts: 0 }, approval: maybe }"].join("\n");
    let message = "";
    try {
      parseProxyPolicy(text, "bad.yaml");
    } catch (e) {
      expect(e).toBeInstanceOf(ProxyPolicyError);
      message = (e as Error).message;
    }
    const lines = message.split("\n");
    expect(lines[0]).toMatch(/^policy file bad\.yaml, line 2: run\.maxStep: unknown field \(known: maxSteps/);
    expect(lines[1]).toMatch(/^policy file bad\.yaml, line 3: run\.destructive\.maxPerRun: .*>=0/);
    expect(message).toMatch(/line 5: tools\.x\.retry\.maxAttempts: .*>=1/);
    expect(message).toMatch(/line 5: tools\.x\.approval: .*"always"\|"never"/);
  });

  it("a duplicate key, a freeze window with a bad time, and a file that is not a mapping", () => {
    expect(() => parseProxyPolicy("store: memory\nstore: memory\n", "d.yaml")).toThrow(/d\.yaml, line 2: not valid YAML or JSON: Map keys must be unique/);
    expect(() => parseProxyPolicy("run:\n  freeze:\n    - { from: soon, to: 2025-01-01T00:00:00Z }\n", "t.yaml")).toThrow(/t\.yaml, line 3: run\.freeze\.0\.from: "soon" is not a time/);
    expect(() => parseProxyPolicy("- 1\n", "l.yaml")).toThrow(/l\.yaml: expected a mapping/);
    expect(() => loadProxyPolicy("/nonexistent/p.yaml")).toThrow(/policy file \/nonexistent\/p\.yaml: cannot read it \(ENOENT\)/);
  });

  it("tool names from outside are names: constructor and toString are tools, __proto__ is refused with its line", () => {
    const p = parseProxyPolicy("tools:\n  constructor: { approval: always }\n  toString: { effect: read }\n", "n.yaml");
    expect(p.tools.get("constructor")).toEqual({ approval: "always" });
    expect(p.tools.get("toString")).toEqual({ effect: "read" });
    expect(p.tools.get("hasOwnProperty")).toBeUndefined();
    expect(() => parseProxyPolicy("tools:\n  ok: {}\n  __proto__: { approval: never }\n", "p.yaml")).toThrow(/p\.yaml, line 3: "__proto__" cannot be a key/);
    expect(() => parseProxyPolicy('{"tools": {"__proto__": {"effect": "read"}}}', "p.json")).toThrow(/"__proto__" cannot be a key/);
    expect(() => parseProxyPolicy("run:\n  __proto__: { maxSteps: 1 }\n", "r.yaml")).toThrow(/line 2: "__proto__" cannot be a key/);
  });

  it("a file that never ends (/dev/zero) or is huge is refused at once, not read forever", () => {
    const started = Date.now();
    expect(() => loadProxyPolicy("/dev/zero")).toThrow(/policy file \/dev\/zero: larger than 1024 KiB/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(() => loadProxyPolicy("/")).toThrow(/policy file \/: cannot read it \(EISDIR\)/);
  });

  it("per tool verifies (MCP names) and escalation; a top-level rules module, taken from the file's folder", () => {
    const p = parseProxyPolicy(
      ["rules: ./guard/rules.mjs", "tools:", "  read_text_file: { verifies: [write_file, edit_file] }", "  page_human: { escalation: true }"].join("\n"),
      "/etc/bulwark/p.yaml",
    );
    expect(p.tools.get("read_text_file")).toEqual({ verifies: ["write_file", "edit_file"] });
    expect(p.tools.get("page_human")).toEqual({ escalation: true });
    expect(p.rules).toEqual({ path: "/etc/bulwark/guard/rules.mjs", given: "./guard/rules.mjs" });
    expect(p.at(["tools", "read_text_file", "verifies", 1])).toBe("policy file /etc/bulwark/p.yaml, line 3: tools.read_text_file.verifies.1: ");
    expect(parseProxyPolicy("rules: /abs/rules.mjs\n", "q.yaml").rules?.path).toBe("/abs/rules.mjs");
    expect(parseProxyPolicy("store: memory\n", "q.yaml").rules).toBeUndefined();
  });

  it("escalation not a boolean, verifies not a list of names, verifies on a write, an empty rules path: the line and the field", () => {
    const problems = (text: string) => {
      try {
        parseProxyPolicy(text, "v.yaml");
      } catch (e) {
        expect(e).toBeInstanceOf(ProxyPolicyError);
        return (e as Error).message;
      }
      throw new Error("parsed");
    };
    expect(problems("tools:\n  page_human:\n    escalation: yes please\n")).toMatch(/^policy file v\.yaml, line 3: tools\.page_human\.escalation: expected boolean, received string$/);
    expect(problems("tools:\n  read_graph: { verifies: create_entities }\n")).toMatch(/line 2: tools\.read_graph\.verifies: expected array, received string/);
    expect(problems("tools:\n  read_graph:\n    verifies:\n      - create_entities\n      - 7\n")).toMatch(/line 5: tools\.read_graph\.verifies\.1: expected string, received number/);
    expect(problems("tools:\n  write_file:\n    effect: write\n    verifies: [edit_file]\n")).toMatch(/line 4: tools\.write_file\.verifies: only a read tool verifies writes \(this one is set to effect: write\)/);
    expect(problems('{\n  "rules": ""\n}\n')).toMatch(/line 2: rules: .*>=1 characters/);
    expect(problems("rules: [a.mjs]\n")).toMatch(/line 1: rules: expected string, received array/);
    expect(problems("tools:\n  x: { escalate: true }\n")).toMatch(/line 2: tools\.x\.escalate: unknown field \(known: .*verifies, escalation\)/);
    expect(problems("rule: ./r.mjs\n")).toMatch(/line 1: rule: unknown field \(known: .*tools, rules\)/);
  });
});
