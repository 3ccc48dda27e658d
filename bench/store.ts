/**
 * Durable write calls per second through the runtime (`createRuntime({ store })` +
 * `run.call(writeTool)`: the stop/freeze watch, the claim, the completion and the ledger
 * entry), and the store's bare claim+complete pairs, SQLite and PostgreSQL, 1 and 4
 * processes, 1 and 32 in flight per process, each beside a raw baseline measured in the
 * same run (SQLite: one bare better-sqlite3 transaction inserting and updating one
 * idempotency row; PostgreSQL: one bare INSERT), with the durability of each figure.
 *   npx tsx bench/store.ts [--ms 1500] [--no-pg] [--no-sqlite]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { postgresStore } from "../src/store/postgres/store.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { goal, printGoals } from "./goals.js";
import { printReport, type Row } from "./report.js";
import { PG_URL, pgReachable, work, type Mode } from "./workload.js";
const self = fileURLToPath(import.meta.url);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};

/** `procs` processes (children of this script) each running `work`; returns pairs per second. */
async function measure(mode: Mode, target: string, procs: number, inflight: number, ms: number): Promise<number> {
  const run = randomBytes(3).toString("hex");
  if (procs === 1) return ((await work(mode, target, inflight, ms, run)) * 1000) / ms;
  const children = Array.from({ length: procs }, (_, i) => {
    const p = spawn(process.execPath, ["--import", "tsx", self, "--child", mode, target, String(inflight), String(ms), `${run}-${i}`], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const ready = new Promise<void>((r) => p.stdout.on("data", () => out.includes("ready") && r()));
    const done = new Promise<number>((resolve, reject) =>
      p.on("exit", (code) => (code === 0 ? resolve(Number(out.trim().split("\n").pop())) : reject(new Error(`child exited ${code}`)))),
    );
    return { p, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.p.stdin.write("go\n");
  const counts = await Promise.all(children.map((c) => c.done));
  return (counts.reduce((a, b) => a + b, 0) * 1000) / ms;
}

async function child() {
  const [, mode, target, inflight, ms, tag] = process.argv.slice(process.argv.indexOf("--child"));
  process.stdout.write("ready\n");
  await new Promise((r) => process.stdin.once("data", r));
  const n = await work(mode as Mode, target!, Number(inflight), Number(ms), tag!);
  process.stdout.write(`${n}\n`);
  process.stdin.destroy();
}

async function main() {
  const ms = Number(arg("ms", "1500"));
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
  const rows: string[][] = [];
  const fmt = (v: number) => Math.round(v).toLocaleString("en-US");
  const figures: { backend: string; procs: number; inflight: number; calls: number; pairs: number; raw: number }[] = [];
  const row = (backend: string, durability: string, procs: number, inflight: number, [calls, pairs, raw]: readonly number[]) => {
    figures.push({ backend, procs, inflight, calls: calls!, pairs: pairs!, raw: raw! });
    rows.push([backend, String(procs), String(inflight), durability, fmt(calls!), fmt(pairs!), fmt(raw!), `${(calls! / raw!).toFixed(2)}x`, `${(pairs! / raw!).toFixed(2)}x`]);
    process.stderr.write(`  ${rows.at(-1)!.join("  ")}\n`);
  };

  // SQLite: a fresh file per measurement, schema made by the store.
  let f = 0;
  const file = () => {
    const p = join(dir, `b${f++}.db`);
    void sqliteStore(p).close();
    return p;
  };
  // The machine's load drifts: runtime calls, store pairs and raw alternate in half
  // slices, and each figure is the mean of its two halves. Returns [calls, pairs, raw].
  const paired = async (...fs: (() => Promise<number>)[]) => {
    const sums = fs.map(() => 0);
    for (let i = 0; i < 2; i++) for (let j = 0; j < fs.length; j++) sums[j]! += await fs[j]!();
    return sums.map((x) => x / 2);
  };
  const half = Math.round(ms / 2);
  const sqliteDurability = "process-crash safe (WAL, synchronous=NORMAL)";
  for (const [procs, inflight] of process.argv.includes("--no-sqlite") ? [] : ([[1, 1], [1, 32], [4, 1], [4, 32]] as const)) {
    const figures = await paired(
      () => measure("sqlite-calls", file(), procs, inflight, half),
      () => measure("sqlite-store", file(), procs, inflight, half),
      () => measure("sqlite-raw", file(), procs, 1, half),
    );
    row("SQLite", sqliteDurability, procs, inflight, figures);
  }

  if (!process.argv.includes("--no-pg") && (await pgReachable())) {
    const pgSettings = new pg.Client({ connectionString: PG_URL });
    await pgSettings.connect();
    const sc = (await pgSettings.query("SHOW synchronous_commit")).rows[0].synchronous_commit as string;
    const fsync = (await pgSettings.query("SHOW fsync")).rows[0].fsync as string;
    const pgDurability = `${sc === "on" && fsync === "on" ? "power-loss safe" : "NOT power-loss safe"} (synchronous_commit=${sc}, fsync=${fsync})`;
    const schemas: string[] = [];
    const schema = async () => {
      const s = `bulwark_bench_${randomBytes(4).toString("hex")}`;
      schemas.push(s);
      await (await postgresStore({ url: PG_URL, schema: s })).close();
      return s;
    };
    for (const [procs, inflight] of [[1, 1], [1, 32], [4, 1], [4, 32]] as const) {
      const rawSchema = await schema();
      const storeSchema = await schema();
      const callsSchema = await schema();
      const figures = await paired(
        () => measure("pg-calls", callsSchema, procs, inflight, half),
        () => measure("pg-store", storeSchema, procs, inflight, half),
        () => measure("pg-raw", rawSchema, procs, inflight, half),
      );
      row("PostgreSQL", pgDurability, procs, inflight, figures);
    }
    for (const s of schemas) await pgSettings.query(`DROP SCHEMA "${s}" CASCADE`);
    await pgSettings.end();
  } else {
    process.stderr.write(`PostgreSQL skipped (unreachable at ${PG_URL} or --no-pg)\n`);
  }
  rmSync(dir, { recursive: true, force: true });

  const head = ["store", "procs", "in flight/proc", "durability", "write calls/s", "claim+complete pairs/s", "raw baseline/s", "calls/raw", "pairs/raw"];
  const table = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
  console.log(
    `\nraw baseline: SQLite = one bare better-sqlite3 transaction (INSERT + UPDATE of one idempotency row) per pair, one per process;` +
      `\n              PostgreSQL = one bare INSERT per pair, with as many in flight as the store row (pool of at most 10).` +
      `\n              Raw and pair keys are shaped like a write call's (run:tool:digest of the arguments), spread over the index.` +
      `\nwrite call = run.call(writeTool) through createRuntime({ store }): a no-op write tool with verify: () => true, one run per` +
      `\n             call in flight; the store work is the stop/freeze watch, the claim, the completion and the ledger entry.` +
      `\nstore pair = claim() + complete(): two writes, each its own transaction unless group-committed. ${ms} ms per figure.`,
  );

  const callsPerRaw = (backend: string, inflight: number) => {
    const f = figures.find((x) => x.backend === backend && x.procs === 1 && x.inflight === inflight);
    return f && f.calls / f.raw;
  };
  const goals = [
    goal("SQLite write call / raw transaction, 1 in flight", "write calls/s ÷ raw transactions/s, 1 process", callsPerRaw("SQLite", 1), ">=", 0.45),
    goal("SQLite write call / raw transaction, 32 in flight", "write calls/s ÷ raw transactions/s, 1 process", callsPerRaw("SQLite", 32), ">=", 1),
    goal("PostgreSQL write call / raw INSERT, 32 in flight", "write calls/s ÷ raw INSERTs/s, 1 process", callsPerRaw("PostgreSQL", 32), ">=", 1.5),
  ];
  printGoals(goals);
  const reportRows: Row[] = figures.flatMap((f) => {
    const at = `${f.backend} ${f.procs} proc ${f.inflight} in flight`;
    return [
      { case: `${at}: write calls`, value: f.calls, unit: "calls/s" },
      { case: `${at}: claim+complete pairs`, value: f.pairs, unit: "pairs/s" },
      { case: `${at}: raw baseline`, value: f.raw, unit: "raw/s" },
      { case: `${at}: write calls / raw`, value: f.calls / f.raw, unit: "x raw", better: "higher" as const },
    ];
  });
  printReport({ bench: "store", rows: reportRows, goals });
}

if (process.argv.includes("--child")) await child();
else await main();
