/**
 * The SQLite store on its two drivers, side by side in one process: write calls per second
 * through the runtime (claim, completion, ledger entry) on better-sqlite3 and on Node's
 * built-in node:sqlite, 1 and 32 in flight, in alternating blocks so that both see the
 * same machine. Needs Node 22.16+ (node:sqlite) with better-sqlite3 built for that Node.
 *   node --import tsx bench/sqlite-drivers.ts [--ms 1500] [--rounds 3]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRuntime, defineTool } from "../src/index.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { hasNodeSqlite, type SqliteDriver } from "../src/store/sqlite/driver.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ms = arg("ms", 1500);
const rounds = arg("rounds", 3);

if (!hasNodeSqlite()) {
  console.log(`node:sqlite is not usable on Node ${process.versions.node} (22.16+ has it): nothing to compare.`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "bulwark-drivers-"));
let n = 0;

/** Write calls per second on `driver` with `inflight` concurrent loops, for `ms`. */
async function writes(driver: SqliteDriver, inflight: number): Promise<number> {
  const rt = createRuntime({ store: sqliteStore({ path: join(dir, `d${n++}.db`), driver }), policy: { maxSteps: 1e9, destructive: { maxPerRun: 1e9 }, maxUnverifiedDepth: 1e9 } });
  await rt.ready();
  const tool = defineTool({ name: "bench_write", effect: "write", execute: async (a: { k: number }) => a.k, verify: () => true });
  const run = rt.startRun({ agent: "bench" });
  let done = 0;
  let i = 0;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < until) {
        const o = await run.call(tool, { k: i++ });
        if (!o.ok) throw new Error(`bench call failed: ${o.failure.kind}: ${o.failure.message}`);
        done++;
      }
    }),
  );
  await rt.close();
  return (done / ms) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`Node ${process.versions.node}; ${rounds} alternating rounds of ${ms} ms each; write calls/s through the runtime (median)`);
console.log("| in flight | better-sqlite3 | node:sqlite | node:sqlite / better-sqlite3 |\n|---|---|---|---|");
try {
  for (const inflight of [1, 32]) {
    const r: Record<SqliteDriver, number[]> = { "better-sqlite3": [], "node:sqlite": [] };
    for (let k = 0; k < rounds; k++) for (const d of ["better-sqlite3", "node:sqlite"] as const) r[d].push(await writes(d, inflight));
    const b = median(r["better-sqlite3"]);
    const s = median(r["node:sqlite"]);
    console.log(`| ${inflight} | ${b.toFixed(0)} | ${s.toFixed(0)} | ${(s / b).toFixed(2)}× |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
