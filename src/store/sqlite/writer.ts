/**
 * How the SQLite store writes: the writer that commits a turn's writes in one IMMEDIATE
 * transaction and waits for another process's lock off the event loop, and the check that the
 * file at the path is still the one opened.
 */
import { statSync } from "node:fs";
import { isBusy, type Db } from "./driver.js";
import { describe } from "../durable.js";
import { StoreUnavailableError } from "../types.js";

/**
 * How long the driver itself waits for another connection's lock, per attempt. Its wait is
 * synchronous (SQLite sleeps 1, 2, 2 ms in the calling thread) and so stops the event loop:
 * kept to a few ms, enough for the common case (another process's commit takes well under
 * a millisecond), while the rest of `busyTimeoutMs` is waited asynchronously, between
 * attempts, by the writer (and by a read, in the rare cases a WAL read is busy).
 */
export const DRIVER_BUSY_MS = 5;
/** The asynchronous wait between attempts: doubling from the first to the last. */
export const RETRY_FIRST_MS = 1;
export const RETRY_LAST_MS = 25;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface PendingWrite {
  op: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** When it stops waiting for the write lock: its arrival plus the busy timeout. */
  deadline: number;
  /** Its batch failed: it runs in a transaction of its own. */
  alone: boolean;
  /** It only reads: it rides the writes of its turn, and is run as a read when there are none. */
  read: boolean;
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
 *
 * A read may be queued too (`read`): one asked before every change, ahead of that change's
 * writes in the same turn. It runs inside the turn's transaction, in arrival order, where it
 * costs no locks of its own and sees everything committed up to BEGIN (a snapshot no older
 * than the one it would have had at once); a turn with reads only runs them as plain reads.
 */
export class Writer {
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
      /** How a read runs outside a transaction (with its own wait for a busy file). */
      read: <T>(op: () => T) => Promise<T>;
    },
  ) {
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
  }

  run<T>(op: () => T): Promise<T> {
    return this.enqueue(op, false);
  }

  /** A read that joins the writes of this turn (see above); without group commit, a read now. */
  read<T>(op: () => T): Promise<T> {
    return this.o.group ? this.enqueue(op, true) : this.o.read(op);
  }

  private enqueue<T>(op: () => T, read: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = Date.now() + this.o.busyTimeoutMs;
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject, deadline, alone: false, read });
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
      if (this.queue.every((w) => w.read)) {
        for (const w of this.queue.splice(0)) this.o.read(w.op).then(w.resolve, w.reject);
        break;
      }
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

export class DatabaseFile {
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
