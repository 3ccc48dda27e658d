/**
 * The package as a user gets it: `npm pack`, then installed into a scratch application
 * for each way of using Bulwark, with only the packages that way needs. Each example is
 * type-checked with `skipLibCheck: false` (Bulwark's types must compile without the
 * optional peers the application did not install) and run. The number of packages
 * installed and the time taken are printed as a table (the README's "Install" table).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropSchemas, pgAvailable, PG_URL, schemaPrefix } from "./fixtures/store-pg.js";

const run = promisify(execFile);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const work = mkdtempSync(join(tmpdir(), "bulwark-install-"));
const node = process.execPath;
// npm under this Node (CI runs the suite under several Node versions): a native module is
// built for the Node that will load it.
const npm = (args: string[], cwd: string) =>
  run("npm", args, {
    cwd,
    maxBuffer: 64 << 20,
    env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}`, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" },
  });
const nodeSqlite = Number(process.versions.node.split(".")[0]) * 100 + Number(process.versions.node.split(".")[1]) >= 2216;
const pgUp = await pgAvailable();

let tarball = "";
beforeAll(async () => {
  const { stdout } = await npm(["pack", "--silent", "--pack-destination", work], root);
  tarball = join(work, stdout.trim().split("\n").pop()!);
}, 240_000);

const rows: string[] = [];
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (rows.length) process.stdout.write(`\nInstalled from the packed tarball on Node ${process.versions.node}:\n| way of use | installed with | packages | install time |\n|---|---|---|---|\n${rows.join("\n")}\n`);
}, 120_000);

interface Way {
  name: string;
  /** Packages installed beside Bulwark. */
  peers: string[];
  /** The application's code, type-checked and run. */
  files: Record<string, string>;
  /** What runs it [node out/app.js]. */
  command?: string[];
  /** What the run must print. */
  expect: (out: string) => void;
}

/** Install, count, type-check (no skipLibCheck), build and run one way of use. */
async function tryWay(w: Way): Promise<string> {
  const app = join(work, w.name.replace(/\W+/g, "-"));
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const started = performance.now();
  await npm(["install", "--no-save", "--prefer-offline", tarball, ...w.peers], app);
  const seconds = (performance.now() - started) / 1000;
  const lock = JSON.parse(readFileSync(join(app, "node_modules", ".package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
  const packages = Object.keys(lock.packages).filter((p) => p.startsWith("node_modules/")).length;
  const compiled = Object.keys(lock.packages).filter((p) => readdirSafe(join(app, p, "build")).includes("Release"));
  for (const [file, text] of Object.entries(w.files)) writeFileSync(join(app, file), text);
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: false,
        outDir: "out", typeRoots: [join(root, "node_modules", "@types")], types: ["node"],
      },
      include: Object.keys(w.files).filter((f) => f.endsWith(".ts")),
    }),
  );
  await run(node, [tsc, "-p", "tsconfig.json"], { cwd: app }).catch((e: { stdout?: string }) => {
    throw new Error(`${w.name}: the example does not type-check against the installed package:\n${e.stdout}`);
  });
  const [command, ...args] = w.command ?? [node, "out/app.js"];
  const { stdout } = await run(command!, args, { cwd: app, env: { ...process.env, BULWARK_PG_URL: PG_URL, NO_COLOR: "1", FORCE_COLOR: "0" } });
  w.expect(stdout);
  rows.push(`| ${w.name} | ${w.peers.length ? w.peers.join(" ") : "nothing else"} | ${packages}${compiled.length ? ` (compiled: ${compiled.map((p) => p.slice("node_modules/".length)).join(", ")})` : ""} | ${seconds.toFixed(1)} s |`);
  return app;
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

const guardedCall = (store: string) => `
import { createRuntime, defineTool } from "bulwark";
const rt = createRuntime({ store: ${store} });
const lookup = defineTool({ name: "lookup", effect: "read", execute: async (a: { id: string }) => ({ id: a.id, ok: true }) });
const run = rt.startRun({ agent: "app" });
const r = await run.call(lookup, { id: "a1" });
await run.end();
await rt.close();
console.log(JSON.stringify(r.ok ? r.value : r.failure));
`;

/** 50 claims on a SQLite store with background checkpoints, opened from the installed dist/. */
const backgroundCheckpoints = `
import { copyFileSync } from "node:fs";
import { sqliteStore } from "./node_modules/bulwark/dist/store/sqlite/store.js";
import { openDatabase } from "./node_modules/bulwark/dist/store/sqlite/driver.js";
const s = sqliteStore({ path: "state/ckpt.db", checkpoint: "background", checkpointMs: 5 });
const req = { scope: "t", fingerprint: "f", runId: "r", now: 1, leaseMs: 60000, retentionMs: 60000 };
await Promise.all(Array.from({ length: 50 }, (_, i) => s.idempotency.claim({ ...req, key: "k" + i, owner: "a" })));
const inFile = () => {
  copyFileSync("state/ckpt.db", "state/copy.db");
  const db = openDatabase("state/copy.db", { timeoutMs: 100 });
  try { return db.prepare("SELECT count(*) FROM idempotency").pluck().get(); } catch { return 0; } finally { db.close(); }
};
const until = Date.now() + 10000;
while (inFile() !== 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
console.log(JSON.stringify({ inFile: inFile() }));
await s.close();
`;

describe("the packed package, installed as an application would", () => {
  it("core only: a guarded call on the memory store, nothing compiled, and the CLI's demo", async () => {
    const app = await tryWay({
      name: "core (memory store)",
      peers: [],
      files: { "app.ts": guardedCall(`"memory"`) },
      expect: (out) => expect(JSON.parse(out)).toEqual({ id: "a1", ok: true }),
    });
    const lock = JSON.parse(readFileSync(join(app, "node_modules", ".package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).filter((p) => p.startsWith("node_modules/")).length).toBeLessThan(10);
    for (const heavy of ["better-sqlite3", "pg", "@modelcontextprotocol/sdk", "prom-client", "ai"]) expect(lock.packages).not.toHaveProperty(`node_modules/${heavy}`);
    // The CLI works after a plain install: the demo (on node:sqlite where this Node has it,
    // else on the memory store, saying so), and the proxy says what it needs.
    const demo = await run(node, ["node_modules/bulwark/dist/cli/main.js", "demo", "--runs", "2"], { cwd: app, maxBuffer: 16 << 20 });
    expect(demo.stdout).toContain("1. A chaos pass");
    if (!nodeSqlite) expect(demo.stdout).toContain("npm install better-sqlite3@12");
    const proxy = await run(node, ["node_modules/bulwark/dist/cli/main.js", "proxy", "--policy", "p.yaml", "--", "x"], { cwd: app }).catch((e: { stderr: string; code: number }) => e);
    expect("code" in proxy && proxy.code).toBe(1);
    expect((proxy as { stderr: string }).stderr).toContain("npm install @modelcontextprotocol/sdk yaml zod");
    // A policy file needs yaml and zod: replay says so rather than failing at start.
    const replay = await run(node, ["node_modules/bulwark/dist/cli/main.js", "replay", "runs.jsonl", "--tools", "tools.js", "--policy", "p.yaml"], { cwd: app }).catch((e: { stderr: string; code: number }) => e);
    expect((replay as { stderr: string }).stderr).toContain("npm install yaml zod");
  }, 600_000);

  it("the SQLite store: better-sqlite3 on Node 20, nothing on Node 22.16+ (node:sqlite)", async () => {
    const app = await tryWay({
      name: `SQLite store (Node ${process.versions.node.split(".")[0]})`,
      peers: nodeSqlite ? [] : ["better-sqlite3@12"],
      files: { "app.ts": guardedCall(`"sqlite:state/bulwark.db"`), "checkpoint.mjs": backgroundCheckpoints },
      expect: (out) => expect(JSON.parse(out)).toEqual({ id: "a1", ok: true }),
    });
    // The background checkpointer's worker starts from the built files (its entry is a
    // module of its own in dist/): the database file alone, without its WAL, holds the
    // commits before the store closes, far too few pages for a commit to have checkpointed.
    const { stdout } = await run(node, ["checkpoint.mjs"], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ inFile: 50 });
  }, 600_000);

  it("the PostgreSQL store: pg", async (t) => {
    const pgSchema = schemaPrefix();
    t.onTestFinished(() => dropSchemas(pgSchema));
    if (!pgUp) {
      if (process.env.BULWARK_REQUIRE_PG === "1") throw new Error(`PostgreSQL is required (BULWARK_REQUIRE_PG=1) but not reachable at ${PG_URL}`);
      t.skip();
    }
    await tryWay({
      name: "PostgreSQL store",
      peers: ["pg@8"],
      // A fresh schema each run: one left by a checkout whose migrations differ must not be reused.
      files: { "app.ts": guardedCall(`process.env.BULWARK_PG_URL! + "?schema=${pgSchema}"`) },
      expect: (out) => expect(JSON.parse(out)).toEqual({ id: "a1", ok: true }),
    });
  }, 600_000);

  it("the AI SDK adapter: ai, with the SDK's mock model", async () => {
    await tryWay({
      name: "AI SDK tools (bulwark/ai-sdk)",
      // @types/json-schema: the AI SDK's own types need it under skipLibCheck: false.
      peers: ["ai@6", "@types/json-schema"],
      files: {
        "app.ts": `
import { generateText, stepCountIs, tool, jsonSchema } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { createRuntime } from "bulwark";
import { guardTools } from "bulwark/ai-sdk";
const weather = tool({
  description: "the weather in a city",
  inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
  execute: async ({ city }) => ({ city, celsius: 21 }),
});
let turn = 0;
const model = new MockLanguageModelV3({
  doGenerate: async () =>
    turn++ === 0
      ? { content: [{ type: "tool-call" as const, toolCallId: "c1", toolName: "weather", input: JSON.stringify({ city: "Oslo" }) }], finishReason: { unified: "tool-calls" as const, raw: undefined }, usage: { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } }, warnings: [] }
      : { content: [{ type: "text" as const, text: "done" }], finishReason: { unified: "stop" as const, raw: undefined }, usage: { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } }, warnings: [] },
});
const rt = createRuntime({ store: "memory" });
const run = rt.startRun({ agent: "app" });
const r = await generateText({ model, tools: guardTools({ weather: { tool: weather, effect: "read" } }).for(run), stopWhen: stepCountIs(3), prompt: "weather in Oslo?" });
await run.end();
await rt.close();
console.log(JSON.stringify(r.steps[0]!.toolResults.map((t) => t.output)));
`,
      },
      expect: (out) => expect(JSON.parse(out)).toEqual([{ city: "Oslo", celsius: 21 }]),
    });
  }, 600_000);

  it("the MCP proxy through npx bulwark: the MCP SDK, yaml and zod", async () => {
    await tryWay({
      name: "MCP proxy (npx bulwark proxy)",
      peers: ["@modelcontextprotocol/sdk@1", "yaml@2", "zod@4"],
      files: {
        "server.mjs": `
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
const server = new McpServer({ name: "echo", version: "1.0.0" });
server.registerTool("echo", { description: "echo", inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, async ({ text }) => ({ content: [{ type: "text", text }] }));
await server.connect(new StdioServerTransport());
`,
        "policy.yaml": "store: memory\n",
        "app.ts": `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
const client = new Client({ name: "app", version: "1.0.0" });
await client.connect(new StdioClientTransport({ command: process.execPath, args: ["node_modules/.bin/bulwark", "proxy", "--policy", "policy.yaml", "--", process.execPath, "server.mjs"] }));
const r = await client.callTool({ name: "echo", arguments: { text: "hi" } });
await client.close();
console.log(JSON.stringify(r.content));
`,
      },
      expect: (out) => expect(JSON.parse(out)).toEqual([{ type: "text", text: "hi" }]),
    });
  }, 600_000);

  it("a third party's store proves itself with bulwark/testing under vitest", async () => {
    await tryWay({
      name: "store conformance (bulwark/testing)",
      peers: ["vitest@4"],
      files: {
        // A store of the application's own: here the memory store behind a wrapper that
        // counts what it is asked, as a custom store would add its own behaviour.
        "app.test.ts": `
import { memoryStore, type Store } from "bulwark";
import { describeStoreConformance } from "bulwark/testing";
function countingStore(): Store {
  const inner = memoryStore();
  let calls = 0;
  return new Proxy(inner, { get: (t, k, r) => (k === "calls" ? calls++ : Reflect.get(t, k, r)) });
}
describeStoreConformance("counting store", countingStore);
`,
      },
      command: [node, "node_modules/vitest/vitest.mjs", "run", "app.test.ts"],
      expect: (out) => expect(out).toMatch(/Tests\s+\d+ passed \(\d+\)/),
    });
  }, 600_000);
});
