/**
 * Process crash mid-call. An agent process moves money: its tool inserts a row into a real
 * SQLite `transfers` table (a system that takes no idempotency key), and the process is
 * killed with SIGKILL after the row is written but before Bulwark records the outcome (in
 * a quarter of the crashes, just before the row is written). A supervisor restarts the
 * agent two minutes later and it carries out the same intent, the transfer id, again.
 * Bare, the restarted agent inserts a second row. Through Bulwark, the dead process's
 * claim on the key (the transfer id, shared by every process on the store) has lapsed, so
 * the tool's `verify` probe looks for the row: found, the call is replayed as done
 * (`recovered`); not found, it runs once.
 * Incident: every row beyond the first for one transfer.
 *
 * Faithful to a crash: the first attempt runs in a real child process
 * (process-crash.child.ts), on the same store file and the same world file, and is killed
 * by a real SIGKILL once it reports where it stands; nothing it held in memory survives.
 * Both sides of the faulty twin crash a child (bare and guarded differ only in Bulwark);
 * the restart runs here, in the episode's process, on a fresh runtime whose clock is past
 * the dead claim's lease. The healthy twin has no crash: one process, one call, no child.
 *
 * Speed: starting Node (and tsx, from sources) is nearly all of an episode's cost, so the
 * episodes run 8 at a time and the crashes asked for within 25 ms share one process, as
 * when a worker that serves several agents dies: several transfers in flight, each on its
 * own key, one SIGKILL. Each episode is still decided by its own transfer alone.
 *
 * The store: the guarded runtime's, when it is durable (`--store sqlite:…` or postgres);
 * otherwise, since a crash needs state that outlives a process, a SQLite file in a
 * temporary directory of this process, removed at exit (the world's file is beside it).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openDatabase, type Db } from "../../store/sqlite/driver.js";
import { defineTool, type Tool } from "../../tool.js";
import { play, type Scenario } from "../scenario.js";

export interface Transfer {
  transferId: string;
  from: string;
  to: string;
  cents: number;
}

/** Where the child process dies: just before the row is written, or just after. */
export type CrashPoint = "before_effect" | "after_effect";

/** The world: a bank's `transfers` table in a SQLite file, shared by every process. */
export class TransferLedger {
  private readonly db: Db;

  constructor(path: string) {
    // The same SQLite library as the store's, so the demo needs no driver of its own.
    this.db = openDatabase(path, { timeoutMs: 5000 });
    this.db.pragma("journal_mode = WAL");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS transfers (id INTEGER PRIMARY KEY, transfer_id TEXT NOT NULL, from_account TEXT NOT NULL, to_account TEXT NOT NULL, cents INTEGER NOT NULL)",
    );
  }

  /** Moves the money: one row. No idempotency key: a second insert is a second transfer. */
  insert(t: Transfer): { id: number; transferId: string } {
    const r = this.db.prepare("INSERT INTO transfers (transfer_id, from_account, to_account, cents) VALUES (?, ?, ?, ?)").run(t.transferId, t.from, t.to, t.cents);
    return { id: Number(r.lastInsertRowid), transferId: t.transferId };
  }

  rows(transferId: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM transfers WHERE transfer_id = ?").get(transferId) as { n: number }).n;
  }

  close() {
    this.db.close();
  }
}

/**
 * The agent's transfer tool. The key is the intent (the transfer id), so a restarted
 * process shares it; `verify` looks the row up, which settles a claim left by a dead
 * process. `halt`, in the child only, is where the process stops to be killed.
 */
export function transferTool(world: TransferLedger, halt?: { at: CrashPoint; now: () => Promise<never> }): Tool<Transfer, { id: number; transferId: string }> {
  return defineTool({
    name: "make_transfer",
    effect: "write",
    timeoutMs: 5_000,
    retry: false,
    idempotencyKey: (t: Transfer) => t.transferId,
    execute: async (t: Transfer) => {
      if (halt?.at === "before_effect") await halt.now();
      const row = world.insert(t);
      if (halt?.at === "after_effect") await halt.now();
      return row;
    },
    verify: (t: Transfer) => world.rows(t.transferId) > 0,
  });
}

/** At most this many calls die in one process. */
const MAX_BATCH = 8;
/** How long a crash waits for others to share its process. */
const BATCH_WINDOW_MS = 25;
/** Long past the lease of a claim on `make_transfer` (5 s timeout, no retry: 15 s). */
const RESTART_AFTER_MS = 120_000;

export const processCrash: Scenario = {
  name: "process-crash",
  title: "process killed mid-call: the restarted agent makes the transfer again",
  concurrency: MAX_BATCH,
  episode: async (o) => {
    const dir = workDir();
    const store = o.store && o.store !== "memory" && o.store !== "sqlite::memory:" ? o.store : `sqlite:${join(dir, "bulwark.db")}`;
    const worldPath = join(dir, "world.db");
    const world = new TransferLedger(worldPath);
    const say = (l: string) => o.narrate?.(l);
    // Unique per episode: the store may be shared by episodes and by earlier demos.
    const transfer: Transfer = { transferId: `tr_${o.seed.toString(36)}_${Math.random().toString(36).slice(2, 8)}`, from: "acct_alice", to: "acct_bob", cents: 250_000 };
    try {
      return await play(
        { ...o, store },
        { habits: { repeats: 0 }, agent: "transfer-agent" },
        async ({ clock, agent, random }) => {
          const tool = transferTool(world);
          say(`The agent moves $${transfer.cents / 100} from ${transfer.from} to ${transfer.to} (transfer ${transfer.transferId}).`);
          if (!o.faulty) {
            const seen = await agent.try(tool, transfer);
            say(`  done in one process: ${seen.ok ? "ok" : seen.error}`);
            return seen.ok && world.rows(transfer.transferId) === 1;
          }
          const at: CrashPoint = random.chance(0.25) ? "before_effect" : "after_effect";
          await crash({ guarded: o.guarded, store, worldPath, transfer, at }, clock.now());
          say(
            at === "after_effect"
              ? `  its process writes the row, then is killed (SIGKILL) before ${o.guarded ? "Bulwark records the outcome" : "it can note that it did"}: ${world.rows(transfer.transferId)} row.`
              : `  its process is killed (SIGKILL) just before it writes the row: ${world.rows(transfer.transferId)} rows.`,
          );
          clock.skip(RESTART_AFTER_MS);
          say("  two minutes later a supervisor restarts the agent, which makes the same transfer again.");
          const seen = await agent.try(tool, transfer);
          const rows = world.rows(transfer.transferId);
          say(`  the restarted agent sees: ${seen.ok ? (seen.value === null ? "done (Bulwark's verify probe found the row: recovered, not run again)" : `done (row ${seen.value.id})`) : seen.error}`);
          say(`  the transfers table holds ${rows} row${rows === 1 ? "" : "s"} for ${transfer.transferId}.`);
          return seen.ok && rows === 1;
        },
        () => Math.max(0, world.rows(transfer.transferId) - 1),
      );
    } finally {
      world.close();
    }
  },
};

let dirOfProcess: string | undefined;

/** One temporary directory per process for the scenario's files, removed at exit. */
function workDir(): string {
  if (dirOfProcess) return dirOfProcess;
  const dir = mkdtempSync(join(tmpdir(), "bulwark-process-crash-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return (dirOfProcess = dir);
}

/** The child script, and how to start Node on it: from sources with tsx, from the build as is. */
function childCommand(): { command: string; args: string[] } {
  const self = import.meta.url;
  if (self.endsWith(".ts")) {
    const tsx = pathToFileURL(createRequire(self).resolve("tsx")).href;
    return { command: process.execPath, args: ["--import", tsx, fileURLToPath(new URL("./process-crash.child.ts", self))] };
  }
  return { command: process.execPath, args: [fileURLToPath(new URL("./process-crash.child.js", self))] };
}

export interface CrashJob {
  guarded: boolean;
  store: string;
  worldPath: string;
  transfer: Transfer;
  at: CrashPoint;
}

/** What the child is told: its jobs, and where its clock starts (ms). */
export interface CrashOrder {
  startMs: number;
  jobs: CrashJob[];
}

/** The marker a child prints when a job reaches its crash point. */
export const crashMarker = (job: CrashJob) => `${job.transfer.transferId} ${job.at}`;

/**
 * Start one agent process on `order`'s transfers, wait until every one says it reached
 * its crash point, and kill the process with SIGKILL. Resolves once it is dead; rejects
 * if it died any other way.
 */
export function crashChild(order: CrashOrder): Promise<void> {
  const { command, args } = childCommand();
  const child = spawn(command, [...args, JSON.stringify(order)], { stdio: ["ignore", "pipe", "pipe"] });
  const markers = order.jobs.map(crashMarker);
  let out = "";
  let err = "";
  const reached = () => {
    const lines = new Set(out.split("\n"));
    return markers.every((m) => lines.has(m));
  };
  return new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (reached()) child.kill("SIGKILL");
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL" && reached()) resolve();
      else reject(new Error(`process-crash: the agent's process ended with ${signal ?? `code ${code}`} before it was killed: ${err.trim() || out.trim()}`));
    });
  });
}

let queue: { job: CrashJob; startMs: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
let gathering: NodeJS.Timeout | undefined;

/**
 * Crash `job` in an agent process, with whatever other episodes ask for a crash in the
 * same few milliseconds (up to MAX_BATCH): one process, several transfers in flight, one
 * SIGKILL, as when a worker serving several agents dies.
 */
export function crash(job: CrashJob, startMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    queue.push({ job, startMs, resolve, reject });
    if (queue.length >= MAX_BATCH) flush();
    else gathering ??= setTimeout(flush, BATCH_WINDOW_MS);
  });
}

function flush() {
  clearTimeout(gathering);
  gathering = undefined;
  const batch = queue;
  queue = [];
  if (batch.length === 0) return;
  // The earliest clock: every claim the child makes lapses no later than the episodes expect.
  const startMs = Math.min(...batch.map((b) => b.startMs));
  crashChild({ startMs, jobs: batch.map((b) => b.job) }).then(
    () => batch.forEach((b) => b.resolve()),
    (e) => batch.forEach((b) => b.reject(e)),
  );
}
