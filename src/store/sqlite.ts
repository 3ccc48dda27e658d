/**
 * The SQLite store: one file, WAL, shared safely by the processes of one machine. Writes
 * that arrive in the same event-loop turn are committed together in one IMMEDIATE
 * transaction (group commit); another process's write lock is waited for asynchronously; a
 * failure (busy beyond the busy timeout, disk full, a closed store, the file deleted or
 * replaced under the store) is thrown as `StoreUnavailableError`.
 */
import { mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { isBusy, openDatabase, type Db, type SqliteDriver } from "./sqlite-driver.js";
import {
  approvalRecord,
  breakerRecord,
  describe,
  freezeRecord,
  handoffRecord,
  idempotencyRecord,
  mutationRecord,
  nothingToWaitFor,
  runData,
  runParts,
  runRecord,
  snapshotOf,
  storeClosed,
  toJson,
  unavailable,
  Waiters,
  type ApprovalRow,
  type IdempotencyRow,
  type MutationRow,
  type RunRow,
} from "./durable.js";
import { sqliteMigrations } from "./migrations/sqlite.js";
import { SqliteAlerts, SqliteMonitors, type SqliteGuard } from "./sqlite-alerts.js";
import { SqliteShadowDecisions } from "./shadow-decisions.js";
import type {
  AlertStore,
  MonitorStore,
  ApprovalRecord,
  ApprovalStore,
  BreakerRecord,
  BreakerStore,
  ClaimRequest,
  ClaimResult,
  CommitResult,
  FreezeRecord,
  FreezeStore,
  HandoffRecord,
  HandoffStore,
  IdempotencyStore,
  MutationRecord,
  MutationStore,
  RunRecord,
  RunStore,
  ShadowDecisionStore,
  Store,
  StoredOutcome,
} from "./types.js";
import { StoreUnavailableError } from "./types.js";

export interface SqliteStoreOptions {
  /** A file path, or ":memory:" (one connection: not shared with other processes). */
  path: string;
  /** How long a write waits for another process's lock before failing [5000]; waited
   *  asynchronously (the event loop goes on), but synchronously once, while opening. */
  busyTimeoutMs?: number;
  /** "normal": a commit survives a process crash, the last ones may be lost on power loss;
   *  "full": survives power loss too, at the price of an fsync per commit ["normal"]. */
  synchronous?: "normal" | "full";
  /** How often a waiter checks for commits by other processes [20]. */
  pollMs?: number;
  /** Commit concurrent writes of one event-loop turn in one transaction [true]. */
  groupCommit?: boolean;
  /**
   * Where the WAL is copied back into the database file (a checkpoint). "background": by a
   * second connection on a worker thread, every `checkpointMs`, so that commits do not pay
   * for it; a commit still checkpoints itself if the WAL grows past 16 MiB (a worker that
   * falls behind or cannot start). "inline": by the commit that grows the WAL past 4 MiB
   * (SQLite's default) ["inline"; ":memory:" has no WAL]. "background" is for a long-lived,
   * write-heavy process: about 10–15% more write calls per second with many in flight, for
   * a thread per store, which costs a short-lived runtime far more than it saves (the demo
   * opens one store per episode and ran 5x slower with it).
   */
  checkpoint?: "background" | "inline";
  /** How often the background checkpoint runs [50]. */
  checkpointMs?: number;
  /**
   * The SQLite library: "better-sqlite3" (an optional peer, compiled; needed on Node 20) or
   * Node's built-in "node:sqlite" (Node 22.16+) [better-sqlite3 where installed, else
   * node:sqlite]. Both pass the same conformance suite; the background checkpointer runs
   * only with better-sqlite3 installed.
   */
  driver?: SqliteDriver;
}

/** SQLite's own threshold (pages of 4 KiB), kept for "inline" and until the worker is up. */
const INLINE_CHECKPOINT_PAGES = 1000;
/** With a background checkpointer: a commit checkpoints only past this many WAL pages. */
const BACKSTOP_CHECKPOINT_PAGES = 4000;

/**
 * The background checkpointer's code, run with `eval` so that it needs no file of its own
 * (the same under tsx, vitest and the built package). Its connection uses the store's
 * `synchronous`, so a checkpoint syncs the WAL before copying it and the database after,
 * exactly as the commit's own would. PASSIVE never waits for, nor blocks, readers or
 * writers: what it cannot copy now it copies next time.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
db.pragma("synchronous = " + workerData.synchronous);
db.pragma("wal_autocheckpoint = 0");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
let timer;
const tick = () => {
  try {
    const r = checkpoint.get();
    // Caught up with more to do than a tick's worth: go again at once.
    timer = setTimeout(tick, r && r.busy === 0 && r.log > 0 && r.checkpointed === r.log && r.log > 2000 ? 0 : workerData.everyMs);
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
    timer = setTimeout(tick, workerData.everyMs);
  }
};
parentPort.on("message", (m) => {
  if (m !== "close") return;
  clearTimeout(timer);
  try { db.close(); } finally { parentPort.close(); }
});
parentPort.postMessage({ ready: true });
timer = setTimeout(tick, workerData.everyMs);
`;

/**
 * Runs the WAL checkpoints of a file store on a worker thread; the store's own connection
 * checkpoints inline (SQLite's default) until the worker is up, if it fails, and as a
 * backstop past BACKSTOP_CHECKPOINT_PAGES.
 */
class Checkpointer {
  private worker: Worker | undefined;
  private closing: Promise<void> | undefined;

  constructor(db: Db, o: { path: string; synchronous: string; busyTimeoutMs: number; everyMs: number }) {
    let module: string;
    try {
      module = createRequire(import.meta.url).resolve("better-sqlite3");
      this.worker = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: { module, path: o.path, synchronous: o.synchronous, busyTimeoutMs: o.busyTimeoutMs, everyMs: o.everyMs },
      });
    } catch {
      return; // inline checkpoints, as SQLite does by default
    }
    const w = this.worker;
    w.unref();
    const inline = () => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
    };
    w.on("message", (m: { ready?: boolean; error?: string }) => {
      if (m.ready && db.open && this.worker === w) db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    });
    w.on("error", () => {
      this.worker = undefined;
      inline();
    });
    w.on("exit", () => {
      if (this.worker === w) {
        this.worker = undefined;
        inline();
      }
    });
  }

  /** Stop the worker and close its connection (before the store's own, so that the last close checkpoints). */
  close(): Promise<void> {
    const w = this.worker;
    if (!w) return Promise.resolve();
    this.worker = undefined;
    return (this.closing ??= new Promise<void>((resolve) => {
      w.once("exit", () => resolve());
      w.ref(); // a close awaited keeps the process until the worker is gone
      w.postMessage("close");
      setTimeout(() => void w.terminate(), 2_000).unref();
    }));
  }
}

/**
 * How long the driver itself waits for another connection's lock, per attempt. Its wait is
 * synchronous (SQLite sleeps 1, 2, 2 ms in the calling thread) and so stops the event loop:
 * kept to a few ms, enough for the common case (another process's commit takes well under
 * a millisecond), while the rest of `busyTimeoutMs` is waited asynchronously, between
 * attempts, by the writer (and by a read, in the rare cases a WAL read is busy).
 */
const DRIVER_BUSY_MS = 5;
/** The asynchronous wait between attempts: doubling from the first to the last. */
const RETRY_FIRST_MS = 1;
const RETRY_LAST_MS = 25;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface PendingWrite {
  op: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** When it stops waiting for the write lock: its arrival plus the busy timeout. */
  deadline: number;
  /** Its batch failed: it runs in a transaction of its own. */
  alone: boolean;
}

/**
 * Runs writes in IMMEDIATE transactions. With group commit, the writes queued during one
 * event-loop turn share a transaction, each executed in arrival order exactly as it would
 * be alone; their promises settle only after the commit. If one write throws, the batch is
 * rolled back and each write is retried in its own transaction, so that one bad write
 * cannot fail the others.
 *
 * Another connection holding the write lock makes BEGIN IMMEDIATE fail with SQLITE_BUSY
 * (after the driver's short wait), before any statement of the transaction has run: the
 * writes stay queued, and BEGIN is tried again after a timer, with backoff, the event loop
 * free in between; writes that arrive meanwhile join the queue (and the next batch). A
 * write still waiting at its deadline fails as StoreUnavailableError. Only BEGIN is
 * retried: once it has succeeded the lock is held, and a failure after it is the write's own.
 */
class Writer {
  private queue: PendingWrite[] = [];
  /** Cancels the flush that is due (at the end of this turn, or after a backoff), if one is. */
  private due: (() => void) | undefined;
  private delay = RETRY_FIRST_MS;
  private idle: (() => void)[] = [];
  private readonly begin;
  private readonly commit;
  private readonly rollback;

  constructor(
    private readonly db: Db,
    private readonly fail: (e: unknown) => StoreUnavailableError,
    private readonly o: {
      group: boolean;
      busyTimeoutMs: number;
      /** Called holding the write lock, before the batch runs; throws to refuse it. */
      check: () => void;
    },
  ) {
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
  }

  run<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = Date.now() + this.o.busyTimeoutMs;
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject, deadline, alone: false });
      if (this.due !== undefined) return; // joins the batch due, or the wait for the lock
      if (!this.o.group) return this.flush();
      const turn = setImmediate(() => this.flush());
      this.due = () => clearImmediate(turn);
    });
  }

  /** Resolves once every write queued so far has committed or failed. */
  drain(): Promise<void> {
    this.due?.();
    this.flush();
    return this.queue.length === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  /** Commit everything queued now, or wait for the lock if another connection holds it. */
  private flush() {
    this.due = undefined;
    while (this.queue.length > 0) {
      try {
        this.begin.run();
      } catch (e) {
        if (isBusy(e)) return this.waitForLock(e);
        for (const w of this.take()) w.reject(this.fail(e));
        continue;
      }
      this.delay = RETRY_FIRST_MS;
      try {
        this.o.check();
      } catch (e) {
        this.rollback.run();
        for (const w of this.queue.splice(0)) w.reject(this.fail(e));
        break;
      }
      const batch = this.take();
      const results: unknown[] = [];
      try {
        for (const w of batch) results.push(w.op());
        this.commit.run();
      } catch (e) {
        if (this.db.inTransaction) this.rollback.run();
        if (batch.length === 1) {
          batch[0]!.reject(this.fail(e));
        } else {
          for (const w of batch) w.alone = true;
          this.queue.unshift(...batch);
        }
        continue;
      }
      batch.forEach((w, i) => w.resolve(results[i]));
    }
    for (const r of this.idle.splice(0)) r();
  }

  /** The next transaction's writes, in arrival order. */
  private take(): PendingWrite[] {
    if (!this.o.group || this.queue[0]!.alone) return this.queue.splice(0, 1);
    const end = this.queue.findIndex((w) => w.alone);
    return this.queue.splice(0, end < 0 ? this.queue.length : end);
  }

  /** BEGIN was busy: fail the writes past their deadline, try again later for the rest. */
  private waitForLock(busy: unknown) {
    const now = Date.now();
    const late = this.queue.filter((w) => w.deadline <= now);
    if (late.length > 0) {
      this.queue = this.queue.filter((w) => w.deadline > now);
      const e = new Error(
        `another connection held the write lock for longer than the busy timeout (${this.o.busyTimeoutMs} ms): ${describe(busy)}`,
        { cause: busy },
      );
      for (const w of late) w.reject(this.fail(e));
    }
    if (this.queue.length === 0) {
      for (const r of this.idle.splice(0)) r();
      return;
    }
    const first = Math.min(...this.queue.map((w) => w.deadline));
    const timer = setTimeout(() => this.flush(), Math.max(0, Math.min(this.delay, first - now)));
    this.due = () => clearTimeout(timer);
    this.delay = Math.min(this.delay * 2, RETRY_LAST_MS);
  }
}

function migrate(db: Db) {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  db.prepare("BEGIN IMMEDIATE").run();
  try {
    const applied = new Set(db.prepare("SELECT version FROM schema_migrations").pluck().all() as number[]);
    const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
    for (const m of sqliteMigrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
    db.prepare("COMMIT").run();
  } catch (e) {
    if (db.inTransaction) db.prepare("ROLLBACK").run();
    throw e;
  }
}

/** Open (creating if needed) a SQLite store and bring its schema up to date. */
export function sqliteStore(opts: SqliteStoreOptions | string): Store {
  const o: SqliteStoreOptions = typeof opts === "string" ? { path: opts } : opts;
  if (!o.path) throw new Error("sqliteStore: a path is required (or \":memory:\")");
  const where = `SQLite at ${o.path}`;
  const fail = (e: unknown) => unavailable(where, e);
  // The busy timeout is set by the constructor (and refused there unless an integer).
  const busyTimeoutMs = o.busyTimeoutMs ?? 5000;
  const synchronous = o.synchronous === "full" ? "FULL" : "NORMAL";
  let db: Db;
  try {
    if (o.path !== ":memory:") mkdirSync(dirname(o.path), { recursive: true });
    db = openDatabase(o.path, { timeoutMs: busyTimeoutMs, driver: o.driver });
    if (o.path !== ":memory:") db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${synchronous}`);
    migrate(db); // waits for the lock synchronously, the full busy timeout: once, at open
    db.pragma(`busy_timeout = ${DRIVER_BUSY_MS}`);
  } catch (e) {
    throw unavailable(`cannot open ${where}`, e);
  }
  let file: DatabaseFile | undefined;
  try {
    file = o.path === ":memory:" ? undefined : new DatabaseFile(resolve(o.path));
  } catch (e) {
    db.close();
    throw unavailable(`cannot open ${where}`, e);
  }
  const checkpointer =
    o.path !== ":memory:" && (o.checkpoint ?? "inline") === "background"
      ? new Checkpointer(db, {
          path: o.path,
          synchronous,
          busyTimeoutMs,
          everyMs: Math.max(1, Math.floor(o.checkpointMs ?? 50)),
        })
      : undefined;
  return new SqliteStore(db, o, fail, checkpointer, file);
}

/**
 * The database file the store opened, by identity (device and inode), and whether it is
 * still the file at its path. Deleted under an open store (with its -wal and -shm), or
 * replaced (a restore, a rename), the file the connection writes to is one no other process
 * will ever open again, while a process that opens the path gets a new, empty database:
 * two stores that both believe they hold a key, and a second effect. In WAL mode SQLite
 * itself lets such writes commit.
 *
 * Checked by write transactions, holding the write lock, before their writes run; a stat
 * found the same stands for FILE_CHECK_MS. Measured (CPU time, A/B with the check removed,
 * a stat on every transaction): about 3 µs a transaction, 11% of a bare claim+complete pair
 * with one write in flight (54 → 60 µs), 5–11% of a write call through the runtime (134 →
 * 144 µs); standing for 1 ms, within the noise (0–5%). And the 1 ms costs nothing the
 * deletion does not already: a write that lands in the orphaned file within 1 ms after it
 * is lost with the file, exactly as one that committed 1 ms before it did. Once seen, it
 * stays: every later call fails with the same error (reads too, which would be reading a
 * file no one writes any more). Reads alone do not stat.
 */
const FILE_CHECK_MS = 1;

class DatabaseFile {
  private readonly dev: bigint;
  private readonly ino: bigint;
  gone: StoreUnavailableError | undefined;
  private checkedAt = -Infinity;

  constructor(private readonly path: string) {
    const s = statSync(path, { bigint: true });
    this.dev = s.dev;
    this.ino = s.ino;
  }

  /** Throws StoreUnavailableError unless the file at the path is still the one opened. */
  check() {
    if (this.gone) throw this.gone;
    const now = performance.now();
    if (now - this.checkedAt < FILE_CHECK_MS) return;
    const s = statSync(this.path, { bigint: true, throwIfNoEntry: false });
    if (s && s.dev === this.dev && s.ino === this.ino) {
      this.checkedAt = now;
      return;
    }
    throw (this.gone = new StoreUnavailableError(
      `the database file at ${this.path} was deleted or replaced while the store was open ` +
        `(${s ? "another file is at the path now" : "no file is at the path now"}); reopen the store`,
    ));
  }
}

class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly idempotency: IdempotencyStore;
  readonly breakers: BreakerStore;
  readonly runs: RunStore;
  readonly mutations: MutationStore;
  readonly approvals: ApprovalStore;
  readonly handoffs: HandoffStore;
  readonly freezes: FreezeStore;
  readonly alerts: AlertStore;
  readonly monitors: MonitorStore;
  readonly shadow: ShadowDecisionStore;
  private readonly writer: Writer;
  private closed = false;
  private readonly idem: SqliteIdempotency;

  constructor(
    private readonly db: Db,
    o: SqliteStoreOptions,
    fail: (e: unknown) => StoreUnavailableError,
    private readonly checkpointer: Checkpointer | undefined,
    private readonly file: DatabaseFile | undefined,
  ) {
    const busyTimeoutMs = o.busyTimeoutMs ?? 5000;
    const writer = new Writer(db, fail, { group: o.groupCommit ?? true, busyTimeoutMs, check: () => file?.check() });
    this.writer = writer;
    const guard = { write: <T>(op: () => T) => this.open(() => writer.run(op)), read: <T>(op: () => T) => this.open(() => read(op)) };
    // A WAL read is busy only in rare moments (another connection recovering the WAL):
    // waited for as a write is, asynchronously, the read run again whole.
    const read = async <T>(op: () => T): Promise<T> => {
      const deadline = Date.now() + busyTimeoutMs;
      for (let delay = RETRY_FIRST_MS; ; delay = Math.min(delay * 2, RETRY_LAST_MS)) {
        try {
          return op();
        } catch (e) {
          if (!isBusy(e) || Date.now() >= deadline) throw fail(e);
        }
        await sleep(Math.min(delay, deadline - Date.now()));
      }
    };
    this.idem = new SqliteIdempotency(db, guard, o.pollMs ?? 20);
    this.idempotency = this.idem;
    this.breakers = new SqliteBreakers(db, guard);
    this.runs = new SqliteRuns(db, guard);
    this.mutations = new SqliteMutations(db, guard);
    this.approvals = new SqliteApprovals(db, guard);
    this.handoffs = new SqliteHandoffs(db, guard);
    this.freezes = new SqliteFreezes(db, guard);
    this.alerts = new SqliteAlerts(db, guard);
    this.monitors = new SqliteMonitors(db, guard);
    this.shadow = new SqliteShadowDecisions(db, guard);
  }

  private open<T>(f: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(storeClosed("SQLite"));
    if (this.file?.gone) return Promise.reject(this.file.gone);
    return f();
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.writer.drain(); // the writes already queued commit (or time out) first
    this.idem.stop();
    await this.checkpointer?.close();
    this.db.close();
  }
}

class SqliteIdempotency implements IdempotencyStore {
  private readonly select;
  private readonly upsert;
  private readonly completeStmt;
  private readonly latestStmt;
  private readonly unfinishedStmt;
  private readonly extendStmt;
  private readonly releaseStmt;
  private readonly renewStmt;
  private readonly sweepStmt;
  private readonly dataVersion;
  private readonly waiters = new Waiters();
  /** Keys waited on, with the snapshot each waiter started from. */
  private readonly watched = new Map<string, { scope: string; key: string; snapshot: string }>();
  private poller: NodeJS.Timeout | undefined;
  private lastVersion = -1;

  constructor(
    db: Db,
    private readonly g: SqliteGuard,
    private readonly pollMs: number,
  ) {
    this.select = db.prepare<[string, string], IdempotencyRow>(
      `SELECT scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome
       FROM idempotency WHERE scope = ? AND key = ?`,
    );
    // REPLACE deletes the old row and inserts a new one: a new rowid, the claim order.
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO idempotency
         (scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome)
       VALUES (?, ?, ?, 'in_flight', ?, ?, ?, ?, ?, ?, NULL)`,
    );
    // The run's keys of one tool share a prefix: a range of the (scope, key) index.
    this.latestStmt = db
      .prepare<[string, string, string, string], string>(
        `SELECT key FROM idempotency WHERE scope = ? AND key >= ? AND key < ? AND run_id = ? AND state <> 'in_flight'
         ORDER BY id DESC LIMIT 1`,
      )
      .pluck();
    this.unfinishedStmt = db.prepare<[string], IdempotencyRow>(
      `SELECT scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome
       FROM idempotency WHERE run_id = ? AND state <> 'completed' ORDER BY id`,
    );
    // expires_at is indexed: it is written only when it must move (a retention shorter than
    // the call), so that a completion rewrites its row and no index page.
    this.completeStmt = db.prepare<[string, string | null, string, string, string], { expires_at: number }>(
      `UPDATE idempotency SET state = ?, outcome = ?
       WHERE scope = ? AND key = ? AND owner = ? AND state = 'in_flight' RETURNING expires_at`,
    );
    this.extendStmt = db.prepare("UPDATE idempotency SET expires_at = ? WHERE scope = ? AND key = ?");
    this.releaseStmt = db.prepare("DELETE FROM idempotency WHERE scope = ? AND key = ? AND owner = ? AND state = 'in_flight'");
    this.renewStmt = db.prepare(
      "UPDATE idempotency SET lease_until = max(lease_until, ?) WHERE scope = ? AND key = ? AND owner = ? AND state = 'in_flight'",
    );
    this.sweepStmt = db.prepare(
      "DELETE FROM idempotency WHERE expires_at <= ? AND state = 'completed'",
    );
    this.dataVersion = db.prepare("PRAGMA data_version").pluck();
  }

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const result = await this.g.write((): ClaimResult => {
      const row = this.select.get(req.scope, req.key);
      // The new row's rowid is the fence: REPLACE inserts a new row, so it only grows.
      const take = (generation: number) =>
        Number(this.upsert.run(
          req.scope, req.key, req.fingerprint, generation, req.owner, req.runId,
          req.now + req.leaseMs, req.now, req.now + req.retentionMs,
        ).lastInsertRowid);
      if (!row || (row.state === "completed" && row.expires_at <= req.now)) {
        return { status: "claimed", fence: take(0) };
      }
      const record = idempotencyRecord(row);
      if (row.fingerprint !== req.fingerprint) return { status: "conflict", record };
      if (req.replace && row.state !== "in_flight" && row.owner === req.replace.owner) {
        return { status: "claimed", fence: take(req.replace.generation) };
      }
      if (row.state === "completed") return { status: "completed", record };
      if (row.state === "unsettled") return { status: "unsettled", record };
      if (row.lease_until > req.now) return { status: "in_flight", record };
      return { status: "lease_expired", record, fence: take(row.generation) };
    });
    if (result.status === "in_flight") this.waiters.saw(Waiters.id(req.scope, req.key), snapshotOf(result.record));
    return result;
  }

  async complete(scope: string, key: string, owner: string, outcome: StoredOutcome, now: number, as: "completed" | "unsettled" = "completed") {
    const json = toJson(outcome);
    const ok = await this.g.write(() => {
      const row = this.completeStmt.get(as, json, scope, key, owner);
      if (row && row.expires_at < now) this.extendStmt.run(now, scope, key);
      return row !== undefined;
    });
    if (ok) this.waiters.wake(Waiters.id(scope, key));
    return ok;
  }

  async renew(scope: string, key: string, owner: string, leaseUntil: number) {
    return this.g.write(() => this.renewStmt.run(leaseUntil, scope, key, owner).changes === 1);
  }

  async release(scope: string, key: string, owner: string) {
    await this.g.write(() => this.releaseStmt.run(scope, key, owner));
    this.waiters.wake(Waiters.id(scope, key));
  }

  async get(scope: string, key: string) {
    return this.g.read(() => {
      const row = this.select.get(scope, key);
      return row && idempotencyRecord(row);
    });
  }

  async waitForChange(scope: string, key: string, timeoutMs: number): Promise<void> {
    const id = Waiters.id(scope, key);
    const seen = this.waiters.takeSeen(id);
    // Register first, then look: a change is either seen now or wakes the waiter.
    const { promise, wake } = this.waiters.wait(id, timeoutMs);
    let row: IdempotencyRow | undefined;
    try {
      row = await this.g.read(() => this.select.get(scope, key));
    } catch (e) {
      wake();
      throw e;
    }
    const now = snapshotOf(row);
    if (nothingToWaitFor(row) || (seen !== undefined && seen !== now)) {
      wake(); // done, or it changed between the claim that answered in_flight and this wait
    } else {
      if (!this.watched.has(id)) this.watched.set(id, { scope, key, snapshot: now });
      this.startPolling();
    }
    await promise;
    if (!this.waiters.has(id)) this.watched.delete(id);
  }

  async latestInRun(scope: string, runId: string, keyPrefix: string) {
    return this.g.read(() => this.latestStmt.get(scope, keyPrefix, `${keyPrefix}\u{10FFFF}`, runId));
  }

  async unfinished(runId: string) {
    return this.g.read(() => this.unfinishedStmt.all(runId).map(idempotencyRecord));
  }

  async sweep(now: number) {
    return this.g.write(() => this.sweepStmt.run(now).changes);
  }

  /** Other processes' commits are seen by polling `data_version`, only while someone waits. */
  private startPolling() {
    if (this.poller) return;
    this.lastVersion = this.dataVersion.get() as number;
    this.poller = setInterval(() => this.poll(), this.pollMs);
    this.poller.unref();
  }

  private poll() {
    if (this.waiters.size === 0) {
      clearInterval(this.poller);
      this.poller = undefined;
      this.watched.clear();
      return;
    }
    try {
      const v = this.dataVersion.get() as number;
      if (v === this.lastVersion) return;
      this.lastVersion = v;
      for (const [id, w] of this.watched) {
        if (snapshotOf(this.select.get(w.scope, w.key)) !== w.snapshot) {
          this.watched.delete(id);
          this.waiters.wake(id);
        }
      }
    } catch {
      // Busy or gone: wake everyone; their next claim reports the failure.
      this.watched.clear();
      this.waiters.wakeAll();
    }
  }

  stop() {
    clearInterval(this.poller);
    this.poller = undefined;
    this.waiters.wakeAll();
  }
}

class SqliteBreakers implements BreakerStore {
  private readonly selectOne;
  private readonly selectAll;
  private readonly upsert;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.selectOne = db.prepare<[string], { data: string }>("SELECT data FROM breakers WHERE tool = ?");
    this.selectAll = db.prepare<[], { data: string }>("SELECT data FROM breakers ORDER BY seq");
    this.upsert = db.prepare("INSERT INTO breakers (tool, data) VALUES (?, ?) ON CONFLICT (tool) DO UPDATE SET data = excluded.data");
  }
  async get(tool: string) {
    return this.g.read(() => {
      const r = this.selectOne.get(tool);
      return r && breakerRecord(r);
    });
  }
  async put(record: BreakerRecord) {
    const data = JSON.stringify(record);
    await this.g.write(() => this.upsert.run(record.tool, data));
  }
  async list() {
    return this.g.read(() => this.selectAll.all().map(breakerRecord));
  }
}

const RUN_COLS = "stop_reason, stop_at, version, data, facts, history, handoff";

class SqliteRuns implements RunStore {
  private readonly selectOne;
  private readonly insert;
  private readonly update;
  private readonly stop;
  private readonly exists;
  private readonly selectStop;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.selectList = db.prepare<[{ status: string | null; limit: number }], RunRow>(
      `SELECT ${RUN_COLS} FROM runs WHERE (@status IS NULL OR status = @status)
       ORDER BY started_at DESC, seq ASC LIMIT @limit`,
    );
    this.selectOne = db.prepare<[string], RunRow>(`SELECT ${RUN_COLS} FROM runs WHERE run_id = ?`);
    this.insert = db.prepare(
      `INSERT INTO runs (run_id, status, started_at, version, data, facts, history, handoff) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO NOTHING`,
    );
    this.update = db.prepare(
      `UPDATE runs SET version = ?, status = ?, data = ?, facts = COALESCE(?, facts), history = COALESCE(?, history),
         handoff = COALESCE(?, handoff) WHERE run_id = ? AND version = ?`,
    );
    this.stop = db.prepare("UPDATE runs SET stop_at = ?, stop_reason = ?, version = version + 1 WHERE run_id = ? AND stop_reason IS NULL");
    this.exists = db.prepare("SELECT 1 FROM runs WHERE run_id = ?").pluck();
    this.selectStop = db.prepare<[string], { stop_reason: string | null; stop_at: number | null }>("SELECT stop_reason, stop_at FROM runs WHERE run_id = ?");
  }
  async get(runId: string) {
    return this.g.read(() => {
      const r = this.selectOne.get(runId);
      return r && runRecord(r);
    });
  }
  async create(record: RunRecord) {
    const data = runData(record);
    const p = runParts(undefined, record);
    return this.g.write(() => {
      const created = this.insert.run(record.runId, record.status, record.startedAt, record.version, data, p.facts, p.history, p.handoff).changes === 1;
      return { created, record: runRecord(this.selectOne.get(record.runId)!) };
    });
  }
  async commit(prev: RunRecord, next: RunRecord): Promise<CommitResult> {
    const data = runData(next);
    const p = runParts(prev, next);
    return this.g.write((): CommitResult => {
      if (this.update.run(next.version, next.status, data, p.facts, p.history, p.handoff, prev.runId, prev.version).changes === 1) return { committed: true };
      const r = this.selectOne.get(prev.runId);
      return { committed: false, current: r && runRecord(r) };
    });
  }
  async requestStop(runId: string, reason: string, at: number) {
    return this.g.write(() => this.stop.run(at, reason, runId).changes === 1 || this.exists.get(runId) !== undefined);
  }
  async stopRequested(runId: string) {
    return this.g.read(() => {
      const r = this.selectStop.get(runId);
      return r && r.stop_reason !== null && r.stop_at !== null ? { reason: r.stop_reason, at: Number(r.stop_at) } : undefined;
    });
  }
  async list(filter: { status?: RunRecord["status"]; limit?: number } = {}) {
    const limit = filter.limit === undefined ? -1 : Math.max(0, Math.floor(filter.limit));
    return this.g.read(() => this.selectList.all({ status: filter.status ?? null, limit }).map(runRecord));
  }
}

class SqliteMutations implements MutationStore {
  private readonly upsert;
  private readonly selectRun;
  private readonly move;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.upsert = db.prepare(
      `INSERT INTO mutations (id, run_id, run_seq, status, error, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, run_seq = excluded.run_seq,
         status = excluded.status, error = excluded.error, data = excluded.data`,
    );
    this.selectRun = db.prepare<[string], MutationRow>(
      "SELECT status, error, data FROM mutations WHERE run_id = ? ORDER BY run_seq, seq",
    );
    this.move = db.prepare("UPDATE mutations SET status = ?, error = COALESCE(?, error) WHERE id = ? AND status = ?");
  }
  async record(m: MutationRecord) {
    const data = JSON.stringify(m);
    await this.g.write(() => this.upsert.run(m.id, m.runId, m.seq, m.status, m.error ?? null, data));
  }
  async list(runId: string) {
    return this.g.read(() => this.selectRun.all(runId).map(mutationRecord));
  }
  async transition(id: string, from: MutationRecord["status"], to: MutationRecord["status"], error?: string) {
    return this.g.write(() => this.move.run(to, error ?? null, id, from).changes === 1);
  }
}

class SqliteApprovals implements ApprovalStore {
  private readonly upsert;
  private readonly selectOne;
  private readonly selectFind;
  private readonly decideStmt;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.upsert = db.prepare(
      `INSERT INTO approvals (id, run_id, fingerprint, status, requested_at, decided_at, decided_by, decision_reason, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, fingerprint = excluded.fingerprint,
         status = excluded.status, requested_at = excluded.requested_at, decided_at = excluded.decided_at,
         decided_by = excluded.decided_by, decision_reason = excluded.decision_reason, data = excluded.data`,
    );
    const cols = "status, decided_at, decided_by, decision_reason, data";
    this.selectOne = db.prepare<[string], ApprovalRow>(`SELECT ${cols} FROM approvals WHERE id = ?`);
    this.selectFind = db.prepare<[string, string], ApprovalRow>(
      `SELECT ${cols} FROM approvals WHERE run_id = ? AND fingerprint = ? ORDER BY requested_at DESC, seq DESC LIMIT 1`,
    );
    this.selectList = db.prepare<[{ status: string | null; runId: string | null }], ApprovalRow>(
      `SELECT ${cols} FROM approvals WHERE (@status IS NULL OR status = @status) AND (@runId IS NULL OR run_id = @runId)
       ORDER BY requested_at, seq`,
    );
    this.decideStmt = db.prepare(
      `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decision_reason = COALESCE(?, decision_reason)
       WHERE id = ? AND status = 'pending'`,
    );
  }
  async create(a: ApprovalRecord) {
    const data = JSON.stringify(a);
    await this.g.write(() =>
      this.upsert.run(a.id, a.runId, a.fingerprint, a.status, a.requestedAt, a.decidedAt ?? null, a.by ?? null, a.reason ?? null, data),
    );
  }
  async get(id: string) {
    return this.g.read(() => {
      const r = this.selectOne.get(id);
      return r && approvalRecord(r);
    });
  }
  async find(runId: string, fingerprint: string) {
    return this.g.read(() => {
      const r = this.selectFind.get(runId, fingerprint);
      return r && approvalRecord(r);
    });
  }
  async list(filter: { status?: ApprovalRecord["status"]; runId?: string } = {}) {
    return this.g.read(() => this.selectList.all({ status: filter.status ?? null, runId: filter.runId ?? null }).map(approvalRecord));
  }
  async decide(id: string, d: { status: "approved" | "denied"; by: string; reason?: string; at: number }) {
    return this.g.write(() => {
      this.decideStmt.run(d.status, d.by, d.at, d.reason ?? null, id);
      const r = this.selectOne.get(id);
      return r && approvalRecord(r);
    });
  }
}

class SqliteHandoffs implements HandoffStore {
  private readonly upsert;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.selectList = db.prepare<[{ status: string | null; runId: string | null }], { data: string }>(
      "SELECT data FROM handoffs WHERE (@status IS NULL OR status = @status) AND (@runId IS NULL OR run_id = @runId) ORDER BY seq",
    );
    this.upsert = db.prepare(
      `INSERT INTO handoffs (id, run_id, status, data) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, status = excluded.status, data = excluded.data`,
    );
  }
  async create(h: HandoffRecord) {
    const data = JSON.stringify(h);
    await this.g.write(() => this.upsert.run(h.id, h.runId, h.status, data));
  }
  async list(filter: { status?: HandoffRecord["status"]; runId?: string } = {}) {
    return this.g.read(() => this.selectList.all({ status: filter.status ?? null, runId: filter.runId ?? null }).map(handoffRecord));
  }
}

class SqliteFreezes implements FreezeStore {
  private readonly upsert;
  private readonly deleteOne;
  private readonly deleteAll;
  private readonly selectAll;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.upsert = db.prepare(
      "INSERT INTO freezes (id, at, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at, data = excluded.data",
    );
    this.deleteOne = db.prepare("DELETE FROM freezes WHERE id = ?");
    this.deleteAll = db.prepare("DELETE FROM freezes");
    this.selectAll = db.prepare<[], { data: string }>("SELECT data FROM freezes ORDER BY at, seq");
  }
  async put(f: FreezeRecord) {
    const data = JSON.stringify(f);
    await this.g.write(() => this.upsert.run(f.id, f.at, data));
  }
  async lift(id?: string) {
    return this.g.write(() => (id === undefined ? this.deleteAll.run() : this.deleteOne.run(id)).changes);
  }
  async list() {
    return this.g.read(() => this.selectAll.all().map(freezeRecord));
  }
}
