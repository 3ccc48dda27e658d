/**
 * What a guarded call costs its store, counted rather than timed (so it holds on a loaded
 * machine): PostgreSQL round trips (queries the `pg` clients send) and SQLite statements
 * and commits (and the SQLite statements run alone, outside a transaction: each takes the
 * locks by itself), per call, for a read and a keyed write tool, with 1 and 32 calls in flight
 * (one run each), by statement; and SQLite's WAL frames (pages written) per call, counted with
 * the store's automatic checkpoint off while it counts.
 *   npx tsx bench/round-trips.ts [--calls 200] [--no-pg] [--by-statement]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { createRuntime, defineTool } from "../src/index.js";
import { dropSchemas, PG_URL } from "./workload.js";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const CALLS = Number(arg("calls", "200"));

const ALONE = "(alone) ";
/** Statements seen, by the first words of their text (or their prepared name). */
const seen = new Map<string, number>();
const count = (text: string) => {
  const k = text.replace(/\s+/g, " ").slice(0, 60);
  seen.set(k, (seen.get(k) ?? 0) + 1);
};
const pgQuery = pg.Client.prototype.query as (...a: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
  const q = a[0] as string | { name?: string; text?: string };
  count(typeof q === "string" ? q : (q.name?.replace(/^bulwark_trips_[0-9a-f]+_/, "") ?? q.text ?? "?"));
  return pgQuery.apply(this, a);
} as typeof pg.Client.prototype.query;
const proto = Database.prototype as unknown as { prepare(sql: string): Record<string, (...a: unknown[]) => unknown> };
const prepare = proto.prepare;
/** The SQLite connections the store opened (their statements are prepared on them). */
const connections = new Set<Database.Database>();
proto.prepare = function (this: Database.Database, sql: string) {
  connections.add(this);
  const s = prepare.call(this, sql);
  for (const m of ["run", "get", "all"]) {
    const f = s[m]!.bind(s);
    // A statement outside a transaction is a transaction of its own: it takes and gives
    // back the file's locks (a read's, in WAL: the shared-memory read mark) by itself.
    s[m] = (...a: unknown[]) => (count(this.inTransaction || sql.startsWith("BEGIN") ? sql : `${ALONE}${sql}`), f(...a));
  }
  return s;
};

const read = defineTool({ name: "bench_read", effect: "read", execute: async (a: { i: number }) => ({ n: a.i }) });
const write = defineTool({ name: "bench_write", effect: "write", execute: async (a: { r: string; i: number }) => ({ id: `${a.r}-${a.i}` }), verify: async () => true });

/**
 * Start counting WAL frames on the store's connection: no automatic checkpoint while it
 * counts, and the WAL emptied, so that the frames in it at the end are the ones written.
 */
function countFrames(): (() => number) | undefined {
  const db = [...connections].find((c) => c.open && c.name !== ":memory:");
  if (!db) return undefined;
  db.pragma("wal_autocheckpoint = 0");
  db.pragma("wal_checkpoint(TRUNCATE)");
  return () => (db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[])[0]!.log;
}

async function perCall(store: string, kind: "read" | "write", inflight: number): Promise<{ per: Map<string, number>; frames?: number }> {
  connections.clear();
  const rt = createRuntime({ store, policy: { maxSteps: 1e9, maxUnverifiedDepth: 1e9 } });
  await rt.ready();
  const tag = randomBytes(3).toString("hex");
  const runs = Array.from({ length: inflight }, (_, k) => rt.startRun({ agent: "bench", runId: `${tag}-${k}` }));
  await Promise.all(runs.map((r) => r.ready()));
  const loop = (from: number, to: number) =>
    Promise.all(
      runs.map(async (run, k) => {
        for (let i = from; i < to; i++) {
          const o = await (kind === "read" ? run.call(read, { i }) : run.call(write, { r: `${tag}-${k}`, i }));
          if (!o.ok) throw new Error(`${kind} call failed: ${o.failure.message}`);
        }
      }),
    );
  await loop(0, 20); // warm: statements prepared, runs loaded
  const frames = countFrames();
  seen.clear();
  await loop(20, 20 + CALLS);
  const per = new Map([...seen].map(([k, v]) => [k, v / (CALLS * inflight)]));
  const written = frames?.();
  await rt.close();
  return { per, ...(written !== undefined ? { frames: written / (CALLS * inflight) } : {}) };
}

const dir = mkdtempSync(join(tmpdir(), "bulwark-round-trips-"));
const schemas: string[] = [];
const stores: [string, () => string][] = [["SQLite", () => `sqlite:${join(dir, `${randomBytes(3).toString("hex")}.db`)}`]];
if (!process.argv.includes("--no-pg"))
  stores.push([
    "PostgreSQL",
    () => {
      const s = `bulwark_trips_${randomBytes(4).toString("hex")}`;
      schemas.push(s);
      return `${PG_URL}?schema=${s}`;
    },
  ]);
try {
  console.log("| store | call | in flight | statements / call | commits / call | SQLite statements alone / call | WAL frames / call |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  const detail: string[] = [];
  for (const [name, spec] of stores)
    for (const kind of ["read", "write"] as const)
      for (const inflight of [1, 32]) {
        const { per, frames } = await perCall(spec(), kind, inflight);
        const total = [...per.values()].reduce((a, b) => a + b, 0);
        // SQLite: COMMIT statements; PostgreSQL: every statement outside BEGIN…COMMIT commits itself.
        const alone = [...per].reduce((n, [k, v]) => (k.startsWith(ALONE) ? n + v : n), 0);
        const commits = name === "SQLite" ? (per.get("COMMIT") ?? 0) : total - 2 * (per.get("BEGIN") ?? 0) - (per.get("LOCK") ?? 0);
        console.log(`| ${name} | ${kind} | ${inflight} | ${total.toFixed(2)} | ${commits.toFixed(2)} | ${name === "SQLite" ? alone.toFixed(2) : "-"} | ${frames?.toFixed(2) ?? "-"} |`);
        detail.push(`${name} ${kind} ${inflight} in flight:`, ...[...per].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${v.toFixed(3)}  ${k}`));
      }
  if (process.argv.includes("--by-statement")) console.log(`\n${detail.join("\n")}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await dropSchemas(schemas);
}
