/**
 * Where Bulwark stops being the limit: guarded write calls per second (`run.call` on a
 * keyed write tool with a read-back, one run per call in flight) against processes and
 * calls in flight per process, on SQLite and PostgreSQL, beside the raw baseline that the
 * same processes reach (SQLite: a bare better-sqlite3 transaction per pair, one loop per
 * process, since a synchronous driver has nothing in flight; PostgreSQL: a bare INSERT, as
 * many in flight). Prints a markdown table (see bench/workload.ts for each workload).
 * Worker processes are started once per process count and told what to run; every cell
 * starts its clock in all of them at once.
 *   npx tsx bench/scaling.ts [--ms 600] [--procs 1,2,4,8] [--inflight 1,8,32,128] [--no-sqlite] [--no-pg]
 * Its default run takes a minute or two; `--ms 3000` for steadier figures.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus, loadavg, tmpdir } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { postgresStore } from "../src/store/postgres/store.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { dropSchemas, PG_URL, pgReachable, work, type Mode } from "./workload.js";

const self = fileURLToPath(import.meta.url);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const list = (name: string, dflt: string) => arg(name, dflt).split(",").map(Number);

/** PostgreSQL connections per process: the database's 100 shared by up to 8 processes and whoever else uses it. */
const pgPoolFor = (procs: number) => Math.max(2, Math.min(10, Math.floor(64 / procs)));

interface Job {
  mode: Mode;
  target: string;
  inflight: number;
  ms: number;
  tag: string;
  pgPool: number;
}

/** A worker: runs jobs it is sent (JSON lines), says "set" when ready to start the clock, waits for "go", then answers its count. */
async function worker() {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const next = async () => (await lines.next()).value as string | undefined;
  const say = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  for (let line = await next(); line !== undefined && line !== "exit"; line = await next()) {
    const job = JSON.parse(line) as Job;
    const n = await work(job.mode, job.target, job.inflight, job.ms, job.tag, {
      pgPool: job.pgPool,
      started: async () => {
        say("set");
        if ((await next()) !== "go") throw new Error("worker: expected go");
      },
    });
    say({ n });
  }
  process.exit(0);
}

class Workers {
  private readonly procs: { p: ChildProcessByStdio<Writable, Readable, null>; next: () => Promise<unknown> }[];
  constructor(count: number) {
    this.procs = Array.from({ length: count }, () => {
      const p = spawn(process.execPath, ["--import", "tsx", self, "--worker"], { stdio: ["pipe", "pipe", "inherit"] });
      const it = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
      const next = async () => {
        const r = await it.next();
        if (r.done) throw new Error("a bench worker exited");
        return JSON.parse(r.value as string) as unknown;
      };
      return { p, next };
    });
  }
  /** Runs `job` in every worker (its tag made per worker); returns the total per second. */
  async run(job: Omit<Job, "tag">, tag: string): Promise<number> {
    this.procs.forEach((w, i) => w.p.stdin.write(`${JSON.stringify({ ...job, tag: `${tag}-${i}` })}\n`));
    for (const w of this.procs) if ((await w.next()) !== "set") throw new Error("worker: expected set");
    for (const w of this.procs) w.p.stdin.write("go\n");
    let n = 0;
    for (const w of this.procs) n += ((await w.next()) as { n: number }).n;
    return (n * 1000) / job.ms;
  }
  async close() {
    await Promise.all(this.procs.map((w) => new Promise((r) => (w.p.on("exit", r), w.p.stdin.write("exit\n")))));
  }
}

async function main() {
  const ms = Number(arg("ms", "600"));
  const procsList = list("procs", "1,2,4,8");
  const inflightList = list("inflight", "1,8,32,128");
  const dir = mkdtempSync(join(tmpdir(), "bulwark-scaling-"));
  const schemas: string[] = [];
  const backends: { name: "SQLite" | "PostgreSQL"; calls: Mode; raw: Mode; target: () => Promise<string> }[] = [];
  let f = 0;
  if (!process.argv.includes("--no-sqlite"))
    backends.push({
      name: "SQLite",
      calls: "sqlite-calls",
      raw: "sqlite-raw",
      // A fresh file per figure, its schema made by the store.
      target: async () => {
        const p = join(dir, `s${f++}.db`);
        await sqliteStore(p).close();
        return p;
      },
    });
  if (!process.argv.includes("--no-pg")) {
    if (await pgReachable())
      backends.push({
        name: "PostgreSQL",
        calls: "pg-calls",
        raw: "pg-raw",
        target: async () => {
          const s = `bulwark_scaling_${randomBytes(4).toString("hex")}`;
          schemas.push(s);
          await (await postgresStore({ url: PG_URL, schema: s, max: 1 })).close();
          return s;
        },
      });
    else process.stderr.write(`PostgreSQL skipped (unreachable at ${PG_URL})\n`);
  }
  const cells = backends.length * procsList.length * inflightList.length;
  const bar = new cliProgress.SingleBar({ format: "scaling {bar} {value}/{total} figures | {cell}", stream: process.stderr }, cliProgress.Presets.shades_classic);
  bar.start(cells, 0, { cell: "" });
  const rows: { backend: string; procs: number; inflight: number; calls: number; raw: number }[] = [];
  let tag = 0;
  try {
    for (const b of backends)
      for (const procs of procsList) {
        const workers = new Workers(procs);
        try {
          for (const inflight of inflightList) {
            bar.update({ cell: `${b.name}, ${procs} proc × ${inflight} in flight` });
            const pgPool = pgPoolFor(procs);
            // Calls, then raw, on fresh targets; each the mean of two halves, alternated, as the machine's load drifts.
            let calls = 0;
            let raw = 0;
            for (let half = 0; half < 2; half++) {
              calls += (await workers.run({ mode: b.calls, target: await b.target(), inflight, ms: ms / 2, pgPool }, `c${tag++}`)) / 2;
              raw += (await workers.run({ mode: b.raw, target: await b.target(), inflight: b.name === "SQLite" ? 1 : inflight, ms: ms / 2, pgPool }, `r${tag++}`)) / 2;
            }
            rows.push({ backend: b.name, procs, inflight, calls, raw });
            bar.increment();
          }
        } finally {
          await workers.close();
        }
      }
  } finally {
    bar.stop();
    rmSync(dir, { recursive: true, force: true });
    await dropSchemas(schemas);
  }
  const fmt = (v: number) => Math.round(v).toLocaleString("en-US");
  console.log(`\n${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}; ${ms} ms per figure\n`);
  console.log("| store | processes | in flight / process | guarded writes/s | raw baseline/s | guarded / raw |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.backend} | ${r.procs} | ${r.inflight} | ${fmt(r.calls)} | ${fmt(r.raw)} | ${(r.calls / r.raw).toFixed(2)}× |`);
}

if (process.argv.includes("--worker")) await worker();
else await main();
