import pg from "pg";
import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createRuntime, defineTool } from "../src/index.js";

let queries = 0;
const texts = new Map<string, number>();
const origQ = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: any, ...a: any[]) {
  queries++;
  const t = typeof a[0] === "string" ? a[0] : a[0]?.name ?? a[0]?.text;
  const k = String(t).slice(0, 70).replace(/\s+/g, " ");
  texts.set(k, (texts.get(k) ?? 0) + 1);
  return (origQ as any).apply(this, a);
};
let stmts = 0;
const sqlTexts = new Map<string, number>();
const sp = (Database as any).prototype;
const origPrep = sp.prepare;
sp.prepare = function (sql: string) {
  const s = origPrep.call(this, sql);
  for (const m of ["run", "get", "all"]) {
    const o = s[m].bind(s);
    s[m] = (...a: any[]) => { stmts++; const k = sql.slice(0, 70).replace(/\s+/g, " "); sqlTexts.set(k, (sqlTexts.get(k) ?? 0) + 1); return o(...a); };
  }
  return s;
};
const origExec = sp.exec;
sp.exec = function (sql: string) { stmts++; const k = "exec " + sql.slice(0, 60); sqlTexts.set(k, (sqlTexts.get(k) ?? 0) + 1); return origExec.call(this, sql); };

const kind = process.argv[2] as "read" | "write";
const storeKind = process.argv[3];
const inflight = Number(process.argv[4] ?? 1);
const N = Number(process.argv[5] ?? 200);
const dir = mkdtempSync(join(tmpdir(), "trips-"));
const schema = `trips_${randomBytes(4).toString("hex")}`;
const store = storeKind === "pg" ? `postgres://postgres@127.0.0.1:5432/test?schema=${schema}` : `sqlite:${join(dir, "x.db")}`;
const read = defineTool({ name: "bench_read", effect: "read", execute: async (a: { i: number }) => ({ n: a.i }) });
const write = defineTool({ name: "bench_write", effect: "write", execute: async (a: { r: string; i: number }) => ({ id: `${a.r}-${a.i}` }), verify: async () => true });
const rt = createRuntime({ store, policy: { maxSteps: 1e9, maxUnverifiedDepth: 1e9, destructive: { maxPerRun: 1e9 } } });
await rt.ready();
const runs = Array.from({ length: inflight }, (_, k) => rt.startRun({ agent: "bench", runId: `r-${k}` }));
await Promise.all(runs.map((r) => r.ready()));
// warm
await Promise.all(runs.map(async (run, k) => { for (let i = 0; i < 20; i++) await (kind === "read" ? run.call(read, { i }) : run.call(write, { r: `w${k}`, i })); }));
queries = 0; stmts = 0; texts.clear(); sqlTexts.clear();
await Promise.all(runs.map(async (run, k) => { for (let i = 0; i < N; i++) { const o = await (kind === "read" ? run.call(read, { i }) : run.call(write, { r: `x${k}`, i })); if (!o.ok) throw new Error(o.failure.message); } }));
const calls = N * inflight;
console.log(`${storeKind} ${kind} ${inflight} in flight: ${(storeKind === "pg" ? queries : stmts) / calls} per call`);
for (const [k, v] of [...(storeKind === "pg" ? texts : sqlTexts)].sort((a, b) => b[1] - a[1])) console.log(`  ${(v / calls).toFixed(3)}  ${k}`);
await rt.close();
if (storeKind === "pg") { const c = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" }); await c.connect(); await c.query(`DROP SCHEMA "${schema}" CASCADE`); await c.end(); }
