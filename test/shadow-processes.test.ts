/**
 * Shadow mode across real processes, on SQLite and PostgreSQL: an agent process runs in
 * shadow mode and exits; what it would have had refused is then read by other processes,
 * through `bulwark shadow` (the command, as an operator runs it) and the store.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime } from "../src/index.js";
import { dropSchemas, pgAvailable, PG_URL, schemaPrefix } from "./fixtures/store-pg.js";

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const agent = fileURLToPath(new URL("./fixtures/shadow-agent.ts", import.meta.url));
const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "bulwark-shadow-"));
const prefix = schemaPrefix();
const pg = await pgAvailable();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pg) await dropSchemas(prefix);
});

function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", tsx, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function scenario(store: string, name: string) {
  const effects = join(dir, `${name}.effects`);
  const ran = await node([agent, JSON.stringify({ store, runId: `run-${name}`, effects })]);
  expect(ran.stderr).toBe("");
  const outcomes = JSON.parse(ran.stdout) as { ok: boolean; replayed?: boolean; shadow?: { kind: string }[] }[];
  // Every call ran, as if Bulwark were absent, except the repeated write, which replayed.
  expect(readFileSync(effects, "utf8").trim().split("\n")).toEqual(["dropped orders", "dropped users", "dropped 7", "charged 500"]);
  expect(outcomes.map((o) => [o.ok, o.replayed ?? false, (o.shadow ?? []).map((d) => d.kind)])).toEqual([
    [true, false, ["frozen"]],
    [true, false, ["frozen"]],
    [true, false, ["frozen", "invalid_input"]],
    [true, false, ["frozen"]],
    [true, true, []],
  ]);

  const shown = await node([cli, "shadow", "--json", "--store", store, "--examples", "1"]);
  expect(shown.stderr).toBe("");
  const report = JSON.parse(shown.stdout);
  expect(report.total).toBe(5);
  expect(report.sums.map((s: { tool: string; kind: string; calls: number; runs: number }) => [s.tool, s.kind, s.calls, s.runs])).toEqual([
    ["drop_table", "frozen", 3, 1],
    ["charge", "frozen", 1, 1],
    ["drop_table", "invalid_input", 1, 1],
  ]);
  expect(report.sums[0].examples).toEqual([expect.objectContaining({ runId: `run-${name}`, args: { table: 7 }, stage: "admission" })]);

  const text = await node([cli, "shadow", "--store", store, "--since", "1h"]);
  expect(text.stdout).toContain("Shadow mode would have refused 5 calls since");
  expect(text.stdout).toContain("drop_table: frozen (admission): 3 calls in 1 runs");
  expect((await node([cli, "shadow", "--json", "--store", store, "--since", "2999-01-01T00:00:00Z"])).stdout).toContain('"total":0');

  // Another process on the same store sees the same decisions.
  const rt = createRuntime({ store });
  await rt.ready();
  expect((await rt.store.shadow.list({ runId: `run-${name}` })).length).toBe(5);
  await rt.close();
}

describe("shadow mode across processes", () => {
  it("on SQLite: the agent's decisions are summed by bulwark shadow in another process", async () => {
    await scenario(`sqlite:${join(dir, "shadow.db")}`, "sqlite");
  });

  it.runIf(pg)("on PostgreSQL: the same", async () => {
    await scenario(`${PG_URL}?schema=${prefix}_shadow`, "pg");
  });

  it("bulwark shadow refuses a bad --since, and creates no database that does not exist", async () => {
    const bad = await node([cli, "shadow", "--since", "yesterday"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("not a time");
    const missing = join(dir, "nowhere", "none.db");
    const none = await node([cli, "shadow", "--store", `sqlite:${missing}`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no Bulwark store");
    expect(existsSync(missing)).toBe(false);
  });
});
