/**
 * What the call journal costs a call: the same runtime and store, with the journal's entries
 * passed to the run's commit (as always) and dropped before it (as a store without a
 * journal does), alternated in one process so that the machine's drift falls on both.
 * Guarded calls per second, 32 runs in flight, medians of rounds.
 *   npx tsx bench/journal.ts [--ms 1500] [--rounds 5] [--no-pg]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRuntime, defineTool, type Store } from "../src/index.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { postgresStore } from "../src/store/postgres/store.js";
import { callsPerSecond } from "./call-rate.js";

const PG_URL = process.env.BULWARK_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const MS = Number(arg("ms", "1500"));
const ROUNDS = Number(arg("rounds", "5"));
const INFLIGHT = 32;
const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-journal-"));

const read = defineTool({ name: "bench_read", effect: "read", execute: async (a: { i: number }) => ({ n: a.i }) });
const write = defineTool({ name: "bench_write", effect: "write", execute: async (a: { r: string; i: number }) => ({ id: `${a.r}-${a.i}` }), verify: async () => true });

/** `store` as a store without a journal would commit: the entries are not passed on. */
function withoutJournal(store: Store): Store {
  const runs = Object.create(store.runs) as Store["runs"];
  runs.commit = (prev, next) => store.runs.commit(prev, next);
  return { ...store, runs, close: () => store.close(), kind: store.kind };
}

let sample = 0;
async function rate(open: () => Promise<Store>, journal: boolean, kind: "read" | "write"): Promise<number> {
  const s = await open();
  const rt = createRuntime({ store: journal ? s : withoutJournal(s), monitors: false, policy: { maxSteps: 1e9, maxUnverifiedDepth: 1e9 } });
  await rt.ready();
  const tag = `s${sample++}`;
  const runs = Array.from({ length: INFLIGHT }, (_, k) => rt.startRun({ agent: "bench", runId: `${tag}-${k}` }));
  await Promise.all(runs.map((r) => r.ready()));
  const perSec = await callsPerSecond(runs, MS, (run, i, k) => (kind === "read" ? run.call(read, { i }) : run.call(write, { r: `${tag}-${k}`, i })));
  await rt.close();
  await s.close();
  return perSec;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const stores: [string, () => Promise<Store>][] = [["SQLite", async () => sqliteStore(join(dir, "journal.db"))]];
if (!process.argv.includes("--no-pg")) {
  const schema = `bench_journal_${randomBytes(4).toString("hex")}`;
  stores.push(["PostgreSQL", () => postgresStore(`${PG_URL}?schema=${schema}`)]);
}
console.log(`calls/s, ${INFLIGHT} runs in flight, ${ROUNDS} rounds of ${MS} ms each way, alternated`);
for (const [name, open] of stores)
  for (const kind of ["read", "write"] as const) {
    const off: number[] = [];
    const on: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      off.push(await rate(open, false, kind));
      on.push(await rate(open, true, kind));
    }
    const [a, b] = [median(off), median(on)];
    console.log(`${name} ${kind}: without journal ${a.toFixed(0)}, with ${b.toFixed(0)}, ×${(b / a).toFixed(3)}   (without: ${off.map((x) => x.toFixed(0)).join(" ")}; with: ${on.map((x) => x.toFixed(0)).join(" ")})`);
  }
rmSync(dir, { recursive: true, force: true });
process.exit(0);
