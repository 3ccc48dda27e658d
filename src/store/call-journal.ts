/**
 * The call journal in each store: every call of every run, appended by the run's own commit
 * (`RunStore.commit(prev, next, calls)`) in the transaction that writes its record, never by
 * a write of its own; read by run (paged) and across runs by time (for charts). Semantics in
 * types.ts (CallJournalStore); memory here is the reference.
 *
 * A commit's entries are kept as one row (a JSON array, with the times of its first and last
 * call), not a row per call: a run that reads commits its reads' entries 16 at a time, and
 * one insert per commit costs a call almost nothing where an insert per call (four index
 * entries each) cost reads a third of their rate. What follows from it: a page of a run's
 * calls ends at a commit's boundary, and a commit repeated after a lost answer (its entries
 * sent again) is deduplicated when read, by call id.
 */
import type { PgQuery } from "./postgres/alerts.js";
import type { SqliteGuard } from "./sqlite/alerts.js";
import type { Db as SqliteDb } from "./sqlite/driver.js";
import type { CallJournalEntry, CallJournalStore, JournaledCall } from "./types.js";

/** A page of a run's calls, when the caller names no limit. */
export const PAGE = 1_000;

type Page = { after?: number; limit?: number };
type Window = { since: number; until?: number; limit?: number };
/** One commit's entries as stored. */
interface Row {
  seq: number | string;
  data: string;
}

/** What a commit stores for its entries: the JSON array and the times of its first and last call (or nulls: none). */
export function journalRow(calls: readonly CallJournalEntry[] | undefined): [string | null, number | null, number | null] {
  if (!calls || calls.length === 0) return [null, null, null];
  let first = Infinity;
  let last = -Infinity;
  for (const c of calls) {
    if (c.at < first) first = c.at;
    if (c.at > last) last = c.at;
  }
  return [JSON.stringify(calls), first, last];
}

const entries = (r: Row): JournaledCall[] => (JSON.parse(r.data) as CallJournalEntry[]).map((c) => ({ ...c, seq: Number(r.seq) }));
const limitOf = (n: number | undefined, dflt: number) => Math.max(1, Math.floor(n ?? dflt));

/**
 * A page from a run's rows in order (at most `limit` + 1 of them, after the cursor): whole
 * commits while they fit in `limit` calls (the first always), a call once.
 */
function page(rows: Row[], limit: number): { calls: JournaledCall[]; next?: number } {
  const calls: JournaledCall[] = [];
  const seen = new Set<string>();
  let used = 0;
  for (const r of rows) {
    const fresh = entries(r).filter((c) => !seen.has(c.callId));
    if (used > 0 && calls.length + fresh.length > limit) break;
    for (const c of fresh) seen.add(c.callId);
    calls.push(...fresh);
    used++;
  }
  return used < rows.length ? { calls, next: Number(rows[used - 1]!.seq) } : { calls };
}

/**
 * The newest calls of every run in [since, until), from the rows that may hold them: the
 * `limit` rows ended in the window with the latest last calls (each has a call in the
 * window no older than any of the rows after it), and every row that straddles `until`
 * (its calls in the window may be older than its last: it is not ordered by them). A row
 * spans one commit's calls, about a second, so few straddle.
 */
function newest(rows: Row[], w: Window, limit: number): JournaledCall[] {
  const until = w.until ?? Infinity;
  const seen = new Set<string>();
  const calls = rows.flatMap(entries).filter((c) => {
    const id = `${c.runId}\u0000${c.callId}`;
    if (c.at < w.since || c.at >= until || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return calls.sort((a, b) => b.at - a.at || b.seq - a.seq).slice(0, limit);
}

export class MemoryCallJournal implements CallJournalStore {
  /** As JSON text: what is read is a copy, never the committer's objects. */
  private rows: { seq: number; runId: string; first: number; last: number; data: string }[] = [];
  private seq = 0;

  /** Called by the memory run store's commit, once the record is committed. */
  append(runId: string, calls: readonly CallJournalEntry[] | undefined) {
    const [data, first, last] = journalRow(calls);
    if (data !== null) this.rows.push({ seq: ++this.seq, runId, first: first!, last: last!, data });
  }
  async list(runId: string, p: Page = {}) {
    const limit = limitOf(p.limit, PAGE);
    const after = p.after ?? 0;
    return page(this.rows.filter((r) => r.runId === runId && r.seq > after).slice(0, limit + 1), limit);
  }
  async recent(w: Window) {
    const limit = limitOf(w.limit, Number.MAX_SAFE_INTEGER);
    const until = w.until ?? Infinity;
    const ended = this.rows.filter((r) => r.last >= w.since && r.last < until).sort((a, b) => b.last - a.last || b.seq - a.seq);
    const straddling = this.rows.filter((r) => r.first < until && r.last >= until);
    return newest([...ended.slice(0, limit), ...straddling], w, limit);
  }
  async sweep(before: number) {
    const n = this.rows.length;
    this.rows = this.rows.filter((r) => r.last >= before);
    return n - this.rows.length;
  }
}

const SELECT_RUN = "SELECT seq, data FROM call_journal WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?";
const SELECT_RECENT = `SELECT * FROM (SELECT seq, data FROM call_journal WHERE last_at >= @since AND last_at < @until ORDER BY last_at DESC, seq DESC LIMIT @limit)
  UNION ALL SELECT seq, data FROM call_journal WHERE first_at < @until AND last_at >= @until`;

export class SqliteCallJournal implements CallJournalStore {
  private readonly insert;
  private readonly selectRun;
  private readonly selectRecent;
  private readonly deleteOld;
  constructor(
    db: SqliteDb,
    private readonly g: SqliteGuard,
  ) {
    this.insert = db.prepare("INSERT INTO call_journal (run_id, first_at, last_at, data) VALUES (?, ?, ?, ?)");
    this.selectRun = db.prepare<[string, number, number], Row>(SELECT_RUN);
    this.selectRecent = db.prepare<[{ since: number; until: number; limit: number }], Row>(SELECT_RECENT);
    this.deleteOld = db.prepare("DELETE FROM call_journal WHERE last_at < ?");
  }
  /** Inside the run store's commit (its write, one transaction), once the record is committed. */
  append(runId: string, calls: readonly CallJournalEntry[] | undefined) {
    const [data, first, last] = journalRow(calls);
    if (data !== null) this.insert.run(runId, first, last, data);
  }
  async list(runId: string, p: Page = {}) {
    const limit = limitOf(p.limit, PAGE);
    return this.g.read(() => page(this.selectRun.all(runId, p.after ?? 0, limit + 1), limit));
  }
  async recent(w: Window) {
    const limit = limitOf(w.limit, Number.MAX_SAFE_INTEGER);
    return this.g.read(() => newest(this.selectRecent.all({ since: w.since, until: w.until ?? 1e308, limit }), w, limit));
  }
  async sweep(before: number) {
    return this.g.write(() => this.deleteOld.run(before).changes);
  }
}

/**
 * The PostgreSQL statement's CTE that appends a committed run's entries: `from` is the CTE
 * of the runs whose compare-and-set succeeded, with `run_id`, `journal` (the JSON array),
 * `journal_first` and `journal_last`. In the commit's own statement, so the entries are
 * there if and only if the record is.
 */
export function journalInsert(S: string, from: string): string {
  return `${from}j AS (INSERT INTO ${S}.call_journal (run_id, first_at, last_at, data)
    SELECT run_id, journal_first, journal_last, journal FROM ${from} WHERE journal IS NOT NULL)`;
}

export class PgCallJournal implements CallJournalStore {
  constructor(
    private readonly db: PgQuery,
    private readonly S: string,
  ) {}
  async list(runId: string, p: Page = {}) {
    const limit = limitOf(p.limit, PAGE);
    const { rows } = await this.db.query<Row>("calls_list", `SELECT seq, data FROM ${this.S}.call_journal WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [runId, p.after ?? 0, limit + 1]);
    return page(rows, limit);
  }
  async recent(w: Window) {
    const limit = limitOf(w.limit, Number.MAX_SAFE_INTEGER);
    const { rows } = await this.db.query<Row>(
      "calls_recent",
      `(SELECT seq, data FROM ${this.S}.call_journal WHERE last_at >= $1 AND last_at < $2 ORDER BY last_at DESC, seq DESC LIMIT $3)
       UNION ALL SELECT seq, data FROM ${this.S}.call_journal WHERE first_at < $2 AND last_at >= $2`,
      [w.since, w.until ?? 1e308, limit],
    );
    return newest(rows, w, limit);
  }
  async sweep(before: number) {
    const { rowCount } = await this.db.query("calls_sweep", `DELETE FROM ${this.S}.call_journal WHERE last_at < $1`, [before]);
    return rowCount ?? 0;
  }
}
