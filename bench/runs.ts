/**
 * Guarded calls per second through `run.call`, by store (memory, SQLite file, PostgreSQL),
 * for a read tool and a keyed write tool, with 1 and 32 calls in flight (32 conversations
 * served by one process, each its own run), medians of samples. A run's state lives in the
 * store (run-state.ts): this is what that costs. The same script, run on an older checkout,
 * gives the "before" figures.
 *   npx tsx bench/runs.ts [--ms 1000] [--samples 3] [--no-pg]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createRuntime, defineTool } from "../src/index.js";
import { callsPerSecond } from "./call-rate.js";
import { goal, printGoals } from "./goals.js";
import { printReport } from "./report.js";

const PG_URL = process.env.BULWARK_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const MS = Number(arg("ms", "1000"));
const SAMPLES = Number(arg("samples", "3"));
const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-runs-"));
const schema = `bench_runs_${randomBytes(4).toString("hex")}`;

const read = defineTool({ name: "bench_read", effect: "read", execute: async (a: { i: number }) => ({ n: a.i }) });
const write = defineTool({ name: "bench_write", effect: "write", execute: async (a: { r: string; i: number }) => ({ id: `${a.r}-${a.i}` }), verify: async () => true });

let sample = 0;
/** Calls completed per second by `inflight` loops, each on a run of its own, for MS. */
async function rate(store: string, kind: "read" | "write", inflight: number): Promise<number> {
  const rt = createRuntime({ store, policy: { maxSteps: 1e9, maxUnverifiedDepth: 1e9, destructive: { maxPerRun: 1e9 } } });
  await rt.ready();
  const tag = `s${sample++}`;
  const runs = Array.from({ length: inflight }, (_, k) => rt.startRun({ agent: "bench", runId: `${tag}-${k}` }));
  // (`ready` is absent before runs were durable: the bench also runs on older checkouts.)
  await Promise.all(runs.map((r) => (r as { ready?: () => Promise<void> }).ready?.()));
  const perSec = await callsPerSecond(runs, MS, (run, i, k) => (kind === "read" ? run.call(read, { i }) : run.call(write, { r: `${tag}-${k}`, i })));
  await rt.close();
  return perSec;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const stores: [string, string][] = [
    ["memory", "memory"],
    ["SQLite", `sqlite:${join(dir, "runs.db")}`],
  ];
  if (!process.argv.includes("--no-pg")) stores.push(["PostgreSQL", `${PG_URL}?schema=${schema}`]);
  const rows: { store: string; kind: string; inflight: number; perSec: number }[] = [];
  for (const [name, spec] of stores)
    for (const kind of ["read", "write"] as const)
      for (const inflight of [1, 32]) {
        const xs: number[] = [];
        for (let s = 0; s < SAMPLES; s++) xs.push(await rate(spec, kind, inflight));
        rows.push({ store: name, kind, inflight, perSec: median(xs) });
        console.log(`${name.padEnd(10)} ${kind.padEnd(5)} ${String(inflight).padStart(2)} in flight  ${Math.round(median(xs)).toString().padStart(7)} calls/s`);
      }
  const at = (store: string, kind: string, inflight: number) => rows.find((r) => r.store === store && r.kind === kind && r.inflight === inflight)!.perSec;
  for (const kind of ["read", "write"])
    for (const inflight of [1, 32])
      for (const store of stores.slice(1).map(([n]) => n))
        console.log(`${kind} ${inflight} in flight: memory is ${(at("memory", kind, inflight) / at(store, kind, inflight)).toFixed(2)}x ${store}`);
  const goals = [
    goal("reads on SQLite within 1.5x of reads on the memory store, 32 in flight", "memory read calls/s ÷ SQLite read calls/s", at("memory", "read", 32) / at("SQLite", "read", 32), "<=", 1.5),
  ];
  printGoals(goals);
  printReport({
    bench: "runs",
    rows: rows.map((r) => ({ case: `${r.store} ${r.kind} ${r.inflight} in flight`, value: r.perSec, unit: "calls/s" })),
    goals,
  });
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (!process.argv.includes("--no-pg")) {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}
