/**
 * The SQLite store: one file, WAL, shared safely by the processes of one machine. Writes
 * that arrive in the same event-loop turn are committed together in one IMMEDIATE
 * transaction (group commit); another process's write lock is waited for asynchronously; a
 * failure (busy beyond the busy timeout, disk full, a closed store, the file deleted or
 * replaced under the store) is thrown as `StoreUnavailableError`.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  isBusy,
  openDatabase,
  type Db,
  type SqliteDriver,
} from "./driver.js";
import { describe, storeClosed, unavailable } from "../durable.js";
import { sqliteMigrations } from "../migrations/sqlite.js";
import { SqliteAlerts, SqliteMonitors } from "./alerts.js";
import { SqliteShadowDecisions } from "../shadow-decisions.js";
import { SqliteCallJournal } from "../call-journal.js";
import type {
  AlertStore,
  MonitorStore,
  ApprovalStore,
  BreakerStore,
  FreezeStore,
  HandoffStore,
  IdempotencyStore,
  MutationStore,
  RunStore,
  ShadowDecisionStore,
  Store,
} from "../types.js";
import { StoreUnavailableError } from "../types.js";
import { Checkpointer } from "./checkpointer.js";
import { DatabaseFile, DRIVER_BUSY_MS, RETRY_FIRST_MS, RETRY_LAST_MS, sleep, Writer } from "./writer.js";
import { SqliteIdempotency } from "./idempotency.js";
import { SqliteApprovals, SqliteBreakers, SqliteFreezes, SqliteHandoffs, SqliteMutations, SqliteRuns } from "./records.js";

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
   * node:sqlite]. Both pass the same conformance suite; the background checkpointer uses
   * the store's driver.
   */
  driver?: SqliteDriver;
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

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * WAL and the schema, waiting for the lock synchronously (the store opens synchronously): once,
 * at open. The busy timeout covers most waits but not all: a connection that has read the
 * file and must then take its write lock while another holds it (as when processes create a
 * new file at once: each reads it, then switches it to WAL) is refused at once with
 * SQLITE_BUSY, a deadlock SQLite will not wait on. So a busy open is tried again, from the
 * start (each step is idempotent), until the busy timeout.
 */
function setUp(db: Db, path: string, synchronous: string, busyTimeoutMs: number, where: string) {
  const deadline = Date.now() + busyTimeoutMs;
  for (let delay = RETRY_FIRST_MS; ; delay = Math.min(delay * 2, RETRY_LAST_MS)) {
    try {
      if (path !== ":memory:") db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${synchronous}`);
      migrate(db);
      return;
    } catch (e) {
      if (!isBusy(e)) throw e;
      if (Date.now() >= deadline) {
        throw new StoreUnavailableError(
          `cannot open ${where}: another connection held its lock for longer than the busy timeout (${busyTimeoutMs} ms) while this one set it up (WAL, schema): ${describe(e)}`,
          { cause: e },
        );
      }
    }
    Atomics.wait(pause, 0, 0, Math.max(1, Math.min(delay, deadline - Date.now())));
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
  } catch (e) {
    throw unavailable(`cannot open ${where}`, e);
  }
  try {
    setUp(db, o.path, synchronous, busyTimeoutMs, where);
    db.pragma(`busy_timeout = ${DRIVER_BUSY_MS}`);
  } catch (e) {
    db.close();
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
  readonly callJournal: SqliteCallJournal;
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
    const writer = new Writer(db, fail, { group: o.groupCommit ?? true, busyTimeoutMs, check: () => file?.check(), read: (op) => read(op) });
    this.writer = writer;
    const guard = {
      write: <T>(op: () => T) => this.open(() => writer.run(op)),
      read: <T>(op: () => T) => this.open(() => read(op)),
      readWithWrites: <T>(op: () => T) => this.open(() => writer.read(op)),
    };
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
    this.callJournal = new SqliteCallJournal(db, guard);
    this.runs = new SqliteRuns(db, guard, this.callJournal);
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
