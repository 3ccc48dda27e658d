/**
 * `bulwark proxy` end to end: the real command, run as a child with tsx, in front of the
 * real server-memory; an MCP SDK client talks to it over stdio, as any MCP client would.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "../src/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const memoryServer = join(require.resolve("@modelcontextprotocol/server-memory/package.json"), "..", "dist", "index.js");
const filesystemServer = join(require.resolve("@modelcontextprotocol/server-filesystem/package.json"), "..", "dist", "index.js");
const cli = ["--import", "tsx", join(root, "src/cli/main.ts"), "proxy"];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-proxy-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function connect(name: string, policy: string, server: string[] = [process.execPath, memoryServer]) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, policy);
  const client = new Client({ name: `test-${name}`, version: "0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [...cli, "--policy", file, "--", ...server],
      env: { ...(process.env as Record<string, string>), MEMORY_FILE_PATH: join(dir, `${name}.jsonl`) },
      cwd: root,
      stderr: "ignore",
    }),
  );
  const call = async (tool: string, args: Record<string, unknown>) => (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
  return { client, call, memory: () => (existsSync(join(dir, `${name}.jsonl`)) ? readFileSync(join(dir, `${name}.jsonl`), "utf8") : "") };
}

const failure = (r: CallToolResult) => (r._meta?.["bulwark/failure"] as { kind: string } | undefined)?.kind;
const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
const ada = { entities: [{ name: "ada", entityType: "person", observations: ["wrote the first program"] }] };

/** The proxy on the memory server under the policy `file`, told by a client that it has initialized: how it exits. */
async function initializedWith(file: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...cli, "--policy", file, "--", process.execPath, memoryServer], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const send = (m: object) => child.stdin.write(`${JSON.stringify(m)}\n`);
  send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "0" } } });
  child.stdout.once("data", () => send({ jsonrpc: "2.0", method: "notifications/initialized" }));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  return { code, stderr };
}

describe("bulwark proxy", () => {
  it("serves the server's tools with their annotations; repeats replay; the destructive budget and a dead server come back as isError", async () => {
    const pidFile = join(dir, "server.pid");
    const { client, call, memory } = await connect(
      "budget",
      `store: sqlite:budget.db   # beside this file\nrun:\n  destructive: { maxPerRun: 1 }\n`,
      ["sh", "-c", `echo $$ > '${pidFile}'; exec '${process.execPath}' '${memoryServer}'`],
    );
    try {
      const { tools } = await client.listTools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(byName.read_graph?.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.delete_entities?.annotations).toMatchObject({ destructiveHint: true, idempotentHint: true });
      expect(byName.create_entities?.outputSchema).toBeDefined();

      const first = await call("create_entities", ada);
      expect(first.isError).toBeFalsy();
      expect(first.structuredContent).toEqual(ada);
      const again = await call("create_entities", ada);
      expect(again._meta?.["bulwark/call"]).toMatchObject({ replayed: true });
      expect(memory().match(/"name":"ada"/g)).toHaveLength(1);
      expect(existsSync(join(dir, "budget.db"))).toBe(true);

      const bad = await call("search_nodes", {});
      expect(bad.isError).toBe(true);
      expect(failure(bad)).toBe("invalid_input");
      expect(text(bad)).toContain("`query`: required");
      expect((await call("read_graph", {})).isError).toBeFalsy(); // a success resets the chain breaker

      expect((await call("delete_entities", { entityNames: ["nobody"] })).isError).toBeFalsy();
      const over = await call("delete_entities", { entityNames: ["ada"] });
      expect(over.isError).toBe(true);
      expect(failure(over)).toBe("destructive_budget_exceeded");
      expect(text(over)).toMatch(/delete_entities was not run/);
      expect(memory()).toContain('"name":"ada"');

      // The server dies: the next call is answered with a clear failure, not a hang.
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      const dead = await call("read_graph", {});
      expect(dead.isError).toBe(true);
      expect(text(dead)).toMatch(/MCP server (is not connected|closed the connection)/);
    } finally {
      await client.close();
    }
  });

  it("refuses changes under a freeze with the message as text; reads go on", async () => {
    const { call, client, memory } = await connect("freeze", `store: memory\nrun:\n  freeze:\n    - from: 2000-01-01T00:00:00Z\n      to: 2999-01-01T00:00:00Z\n`);
    try {
      const r = await call("create_entities", ada);
      expect(r.isError).toBe(true);
      expect(failure(r)).toBe("frozen");
      expect(text(r)).toMatch(/changes are frozen until 2999/);
      expect(memory()).not.toContain("ada");
      expect((await call("read_graph", {})).isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it("a per-tool approval: always comes back as approval_required", async () => {
    const { call, client } = await connect("approval", `store: memory\ntools:\n  add_observations:\n    approval: always\n`);
    try {
      const r = await call("add_observations", { observations: [{ entityName: "ada", contents: ["x"] }] });
      expect(r.isError).toBe(true);
      expect(failure(r)).toBe("approval_required");
      expect(text(r)).toMatch(/needs a person's approval/);
    } finally {
      await client.close();
    }
  });

  it("a broken policy file is a clear error and a non-zero exit, before the server starts", async () => {
    const cases: [string, string, RegExp][] = [
      ["bad-yaml", "run:\n  maxSteps: [1,\n", /bad-yaml\.yaml, line \d+: not valid YAML or JSON/],
      ["unknown-key", "run:\n  maxStep: 5\n", /unknown-key\.yaml, line 2: run\.maxStep: unknown field \(known: maxSteps/],
      ["wrong-type", '{\n  "run": { "destructive": { "maxPerRun": "three" } }\n}\n', /wrong-type\.yaml, line 2: run\.destructive\.maxPerRun: expected number, received string/],
      ["freeze-backwards", "run:\n  freeze:\n    - from: 2025-07-18T12:00:00Z\n      to: 2025-07-18T08:00:00Z\n", /freeze-backwards\.yaml, line 4: run\.freeze\.0\.to: the window ends .* before it starts/],
    ];
    await Promise.all(
      cases.map(async ([name, body, expected]) => {
        const file = join(dir, `${name}.yaml`);
        writeFileSync(file, body);
        const child = spawn(process.execPath, [...cli, "--policy", file, "--", process.execPath, memoryServer], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const code = await new Promise<number | null>((r) => child.on("close", r));
        expect(code, stderr).not.toBe(0);
        expect(stderr).toMatch(expected);
      }),
    );
  });

  it("a policy file naming a tool the server does not have: reported as soon as a client has initialized, exit 1", async () => {
    const file = join(dir, "unknown-tool.yaml");
    writeFileSync(file, "store: memory\ntools:\n  drop_database: { approval: always }\n");
    const { code, stderr } = await initializedWith(file);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/policy file .*unknown-tool\.yaml, line 3: tools\.drop_database: overrides name tools the server does not have: drop_database \(it has .*read_graph/);
  });

});

describe("bulwark proxy: the policy file's rules, verifies and escalation", () => {
  it("a rule module (TypeScript, run with tsx) refuses a write outside a folder: isError with the policy_violation message, the server not called", async () => {
    const fsRoot = realpathSync(mkdtempSync(join(dir, "fs-")));
    const work = join(fsRoot, "work");
    mkdirSync(work);
    writeFileSync(
      join(dir, "rules-fs.ts"),
      [
        'import { resolve } from "node:path";',
        `const work = ${JSON.stringify(work)};`,
        "export default [",
        "  {",
        '    name: "inside-work",',
        '    tools: ["write_file", "edit_file"],',
        "    rule: (args: { path: string }) => (resolve(args.path).startsWith(`${work}/`) ? undefined : `writes go under ${work} only`),",
        "  },",
        "];",
      ].join("\n"),
    );
    const { call, client } = await connect("rules-fs", `store: memory\nrules: ./rules-fs.ts\n`, [process.execPath, filesystemServer, fsRoot]);
    try {
      const outside = await call("write_file", { path: join(fsRoot, "notes.txt"), content: "x" });
      expect(outside.isError).toBe(true);
      expect(failure(outside)).toBe("policy_violation");
      expect(text(outside)).toContain(`writes go under ${work} only`);
      expect(text(outside)).toContain("inside-work");
      expect(existsSync(join(fsRoot, "notes.txt"))).toBe(false); // the server, which would have written it, was not called
      const inside = await call("write_file", { path: join(work, "notes.txt"), content: "x" });
      expect(inside.isError, text(inside)).toBeFalsy();
      expect(readFileSync(join(work, "notes.txt"), "utf8")).toBe("x");
      expect((await call("list_directory", { path: fsRoot })).isError).toBeFalsy(); // the rule names only writes
    } finally {
      await client.close();
    }
  });

  it("a verifies read passes the verification gate after an unverified write (maxUnverifiedDepth 1)", async () => {
    const policy = ["store: memory", "run:", "  maxUnverifiedDepth: 1", "tools:", "  read_graph: { verifies: [create_entities, add_observations] }", ""].join("\n");
    const { call, client, memory } = await connect("verifies", policy);
    try {
      expect((await call("create_entities", ada)).isError).toBeFalsy();
      const bob = { entities: [{ name: "bob", entityType: "person", observations: [] }] };
      const gated = await call("create_entities", bob);
      expect(gated.isError).toBe(true);
      expect(failure(gated)).toBe("verification_required");
      expect(text(gated)).toContain("read_graph");
      expect(memory()).not.toContain('"name":"bob"');
      expect((await call("read_graph", {})).isError).toBeFalsy();
      expect((await call("create_entities", bob)).isError).toBeFalsy();
      expect(memory()).toContain('"name":"bob"');
    } finally {
      await client.close();
    }
  });

  it("an escalation tool runs on a run the chain breaker halted, and hands it to a person", async () => {
    const policy = ["store: sqlite:escalation.db", "runId: escalation-run", "run:", "  maxConsecutiveFailures: 1", "tools:", "  add_observations: { escalation: true }", ""].join("\n");
    const { call, client, memory } = await connect("escalation", policy);
    try {
      expect((await call("create_entities", ada)).isError).toBeFalsy();
      expect(failure(await call("search_nodes", {}))).toBe("invalid_input"); // one failure halts it
      expect(failure(await call("read_graph", {}))).toBe("run_halted");
      const escalated = await call("add_observations", { observations: [{ entityName: "ada", contents: ["needs a person"] }] });
      expect(escalated.isError, text(escalated)).toBeFalsy();
      expect(memory()).toContain("needs a person");
      expect(failure(await call("read_graph", {}))).toBe("run_halted"); // a halted run stays halted
    } finally {
      await client.close();
    }
    const rt = createRuntime({ store: `sqlite:${join(dir, "escalation.db")}` });
    try {
      await rt.ready();
      const handoffs = await rt.store.handoffs.list({ runId: "escalation-run" });
      expect(handoffs).toHaveLength(1);
      expect(handoffs[0]).toMatchObject({ status: "open" });
      expect(handoffs[0]!.reason).toMatch(/add_observations.*needs a person/);
    } finally {
      await rt.close();
    }
  });

  it("a rules path that does not exist, a module exporting a non-list, escalation not a boolean: a specific error, exit 2, the server never started", async () => {
    writeFileSync(join(dir, "rules-object.mjs"), "export default { rule: () => 'no' };\n");
    const cases: [string, string, RegExp][] = [
      ["rules-missing", "store: memory\nrules: ./no-such-rules.mjs\n", /rules-missing\.yaml, line 2: rules: no such file: .*no-such-rules\.mjs \("\.\/no-such-rules\.mjs" is taken from the policy file's folder\)/],
      ["rules-object", "store: memory\nrules: ./rules-object.mjs\n", /rules-object\.yaml, line 2: rules: the rule module .*rules-object\.mjs must export a list of rules as its default export .*; its default export is an object/],
      ["escalation-text", "store: memory\ntools:\n  add_observations:\n    escalation: \"yes\"\n", /escalation-text\.yaml, line 4: tools\.add_observations\.escalation: expected boolean, received string/],
    ];
    await Promise.all(
      cases.map(async ([name, body, expected]) => {
        const file = join(dir, `${name}.yaml`);
        const marker = join(dir, `${name}.started`);
        writeFileSync(file, body);
        const server = ["sh", "-c", `touch '${marker}'; exec '${process.execPath}' '${memoryServer}'`];
        const child = spawn(process.execPath, [...cli, "--policy", file, "--", ...server], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const code = await new Promise<number | null>((r) => child.on("close", r));
        expect(code, stderr).toBe(2);
        expect(stderr).toMatch(expected);
        expect(existsSync(marker)).toBe(false);
      }),
    );
  });

  it("a verifies naming a tool the server does not have: the file, line and field once the tools are listed, exit 1", async () => {
    const file = join(dir, "verifies-unknown.yaml");
    writeFileSync(file, "store: memory\ntools:\n  read_graph:\n    verifies: [create_entities, create_entity]\n");
    const { code, stderr } = await initializedWith(file);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/policy file .*verifies-unknown\.yaml, line 4: tools\.read_graph\.verifies\.1: the server has no tool "create_entity" to verify \(it has .*create_entities/);
  });
});
