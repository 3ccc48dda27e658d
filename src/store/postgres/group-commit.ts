/**
 * Group commit for the PostgreSQL store: the hot operations of a write call (claim, complete,
 * release, the ledger entry, and the reads that precede a mutation: the run's stop and the
 * declared freezes) that arrive in the same event-loop turn are sent as one statement, one
 * round trip and one transaction: each kind as one set-based part over `unnest` arrays. A
 * call's completion and its ledger entry, issued together, share that statement; with many
 * calls in flight, one statement carries them all, so throughput grows with concurrency.
 *
 * Each caller gets what its own statement would have given: a statement holds at most one
 * operation per key, the next one on that key is sent only once that statement has finished
 * (statements run side by side on several connections: sent at once, the server could run
 * them in either order), and every part sees the state before the statement, as if its
 * reads ran first. If the statement fails with an error the server reports (a bad value, a
 * constraint), each operation is retried alone, so that one bad item cannot fail the others;
 * when the connection fails, each fails as it would alone.
 */
import type pg from "pg";
import { storeClosed } from "../durable.js";
import type { StoreUnavailableError } from "../types.js";

/** One row of the combined statement's answer: which part, which item, up to three values. */
export interface BatchRow {
  k: string;
  i: string | null;
  a: string | null;
  b: string | null;
  c: string | null;
}

/** A part of the statement: the values of its items as columns, and its SQL. */
export interface Part {
  /** One letter, also the tag of its answer rows. */
  readonly tag: string;
  /** PostgreSQL array types of the columns, in order (e.g. "text[]"). */
  readonly types: readonly string[];
  /**
   * The part's CTEs ("name AS (…)", top level: a data-modifying one may not be nested; the
   * one named by its tag is what others read) and, if it answers, its branch of the final
   * SELECT. `p` gives the placeholder of column n (e.g. "$3::text[]"); items are numbered
   * from 1 (`WITH ORDINALITY`).
   */
  sql(S: string, p: (n: number) => string): { ctes?: string[]; select?: string };
}

export interface Op<T = unknown> {
  readonly part: Part;
  /** At most one operation per lock in a statement (e.g. scope+key); reads have none. */
  readonly lock?: string;
  /** This item's value for each column of its part. */
  readonly row: readonly unknown[];
  /** This item's answer from the rows its part returned for it (by item number). */
  answer(rows: BatchRow[]): T;
  /** The operation alone, in its own statement: after a batch failed with a server error. */
  alone(): Promise<T>;
}

interface Queued {
  op: Op;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Parts that must run after others in the statement text (the NOTIFY reads d and g). */
export interface Trailer {
  readonly tag: string;
  /** Included when any of these parts is. */
  readonly after: readonly string[];
  sql(S: string, ch: string, present: readonly string[]): { cte: string; select: string };
}

const MAX_OPS = 500;

export class GroupCommit {
  private queue: Queued[] = [];
  private scheduled = false;
  private running = 0;
  /** The locks of the operations in statements in flight: later operations on them wait. */
  private readonly busy = new Set<string>();
  private readonly texts = new Map<string, { text: string; tags: string[] }>();
  /** Counters, for tests and benchmarks: statements sent, operations they carried, and operations retried alone after a statement failed. */
  readonly stats = { statements: 0, ops: 0, retriedAlone: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly S: string,
    private readonly name: string,
    private readonly parts: readonly Part[],
    private readonly trailers: readonly Trailer[],
    private readonly channelParam: string,
    /** At most this many statements in flight; more operations wait and join the next. */
    private readonly concurrency: number,
    private readonly fail: (e: unknown) => StoreUnavailableError,
    private readonly closed: () => boolean,
  ) {}

  run<T>(op: Op<T>): Promise<T> {
    if (this.closed()) return Promise.reject(storeClosed("PostgreSQL"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled || this.queue.length === 0 || this.running >= this.concurrency) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.running < this.concurrency) {
        const batch = this.take();
        if (batch.length === 0) break; // all that waits is on a lock in flight: sent when it frees
        void this.send(batch);
      }
    });
  }

  /** The next statement's operations: in arrival order, one per lock and none on a lock in flight, at most MAX_OPS. */
  private take(): Queued[] {
    const batch: Queued[] = [];
    const rest: Queued[] = [];
    const locks = new Set<string>();
    for (const q of this.queue) {
      const lock = q.op.lock;
      if (batch.length >= MAX_OPS || (lock !== undefined && (locks.has(lock) || this.busy.has(lock)))) {
        rest.push(q);
        continue;
      }
      if (lock !== undefined) locks.add(lock);
      batch.push(q);
    }
    this.queue = rest;
    for (const l of locks) this.busy.add(l);
    return batch;
  }

  private async send(batch: Queued[]) {
    this.running++;
    try {
      if (batch.length === 1) return await this.alone(batch[0]!);
      let rows: BatchRow[];
      try {
        rows = await this.statement(batch);
      } catch (e) {
        if (this.closed() || !reportedByServer(e)) {
          const err = this.fail(e);
          for (const q of batch) q.reject(err);
          return;
        }
        // The statement was rolled back as a whole: each alone, so one bad item fails alone.
        this.stats.retriedAlone += batch.length;
        await Promise.all(batch.map((q) => this.alone(q)));
        return;
      }
      const byTag = new Map<string, Map<number, BatchRow[]>>();
      for (const r of rows) {
        let items = byTag.get(r.k);
        if (!items) byTag.set(r.k, (items = new Map()));
        const i = r.i === null ? 0 : Number(r.i);
        const list = items.get(i);
        if (list) list.push(r);
        else items.set(i, [r]);
      }
      const index = new Map<Part, number>();
      for (const q of batch) {
        const n = (index.get(q.op.part) ?? 0) + 1;
        index.set(q.op.part, n);
        const items = byTag.get(q.op.part.tag);
        // Reads that every item shares (item 0) and rows of this item.
        const mine = [...(items?.get(0) ?? []), ...(items?.get(n) ?? [])];
        try {
          q.resolve(q.op.answer(mine));
        } catch (e) {
          q.reject(e);
        }
      }
    } finally {
      this.running--;
      for (const q of batch) if (q.op.lock !== undefined) this.busy.delete(q.op.lock);
      this.schedule();
    }
  }

  private async alone(q: Queued) {
    try {
      q.resolve(await q.op.alone());
    } catch (e) {
      q.reject(e);
    }
  }

  private async statement(batch: Queued[]): Promise<BatchRow[]> {
    const present = this.parts.filter((p) => batch.some((q) => q.op.part === p));
    const key = present.map((p) => p.tag).join("");
    let made = this.texts.get(key);
    if (!made) this.texts.set(key, (made = this.build(present)));
    const values: unknown[] = [];
    for (const p of present) {
      const cols: unknown[][] = p.types.map(() => []);
      for (const q of batch) if (q.op.part === p) q.op.row.forEach((v, c) => cols[c]!.push(v));
      values.push(...cols);
    }
    if (made.tags.length > 0) values.push(this.channelParam);
    this.stats.statements++;
    this.stats.ops += batch.length;
    const { rows } = await this.pool.query<BatchRow>({ name: `${this.name}_batch_${key}`, text: made.text, values });
    return rows;
  }

  private build(present: readonly Part[]): { text: string; tags: string[] } {
    const S = this.S;
    const ctes: string[] = [];
    const selects: string[] = [];
    let n = 0;
    for (const p of present) {
      const base = n;
      const { ctes: own, select } = p.sql(S, (c) => `$${base + c}::${p.types[c - 1]}`);
      n += p.types.length;
      if (own) ctes.push(...own);
      if (select) selects.push(select);
    }
    const tags = present.map((p) => p.tag);
    const trailers = this.trailers.filter((t) => t.after.some((a) => tags.includes(a)));
    for (const t of trailers) {
      const { cte, select } = t.sql(S, `$${n + 1}::text`, tags);
      ctes.push(`${t.tag} AS (${cte})`);
      selects.push(select);
    }
    const head = "SELECT NULL::text AS k, NULL::bigint AS i, NULL::text AS a, NULL::text AS b, NULL::text AS c WHERE false";
    const text = `${ctes.length ? `WITH ${ctes.join(",\n")}\n` : ""}${[head, ...selects].join("\nUNION ALL ")}`;
    return { text, tags: trailers.map((t) => t.tag) };
  }
}

/**
 * The server answered with an error for this statement (it was rolled back): not a lost
 * connection, a shutdown or a cancelled query, after which the statement's fate is unknown
 * or every other statement would fail the same way.
 */
function reportedByServer(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return false;
  const cls = code.slice(0, 2);
  return !["08", "57", "53", "58", "XX"].includes(cls);
}
