/**
 * The call journal in each store: every call of every run, appended by the run's own commit
 * (`RunStore.commit(prev, next, calls)`) in the transaction that writes its record, never by
 * a write of its own; read by run (paged) and across runs by time (for charts). Semantics in
 * types.ts (CallJournalStore); memory here is the reference. Kept apart from the record
 * files: the run stores call `append` (memory, SQLite) or put `journalInsert` in their
 * commit statement (PostgreSQL).
 */
import type { PgQuery } from "./postgres-alerts.js";
import type { SqliteGuard } from "./sqlite-alerts.js";
import type { Db as SqliteDb } from "./sqlite-driver.js";
import type { CallJournalEntry, CallJournalStore, JournaledCall } from "./types.js";

/** A page of a run's calls, when the caller names no limit. */
export const PAGE = 1_000;
/** No limit, in a form both databases take as a number. */
const ALL = Number.MAX_SAFE_INTEGER;

type Page = { after?: number; limit?: number };
type Window = { since: number; until?: number; limit?: number };

const row = (r: { seq: number | string; data: string }): JournaledCall => ({ ...(JSON.parse(r.data) as CallJournalEntry), seq: Number(r.seq) });
const paged = (calls: JournaledCall[], limit: number) => (calls.length === limit && limit > 0 ? { calls, next: calls[calls.length - 1]!.seq } : { calls });
const limitOf = (p: Page) => Math.max(0, Math.floor(p.limit ?? PAGE));

/** The entries a commit appends, as one JSON array (or null: none). */
export const journalJson = (calls: readonly CallJournalEntry[] | undefined): string | null => (calls && calls.length > 0 ? JSON.stringify(calls) : null);

export class MemoryCallJournal implements CallJournalStore {
  /** As JSON text: what is read is a copy, never the committer's object. */
  private rows: { seq: number; runId: string; at: number; data: string }[] = [];
  private readonly ids = new Set<string>();
  private seq = 0;

  /** Called by the memory run store's commit, once the record is committed. */
  append(calls: readonly CallJournalEntry[] | undefined) {
    for (const c of calls ?? []) {
      const id = `${c.runId}\u0000${c.callId}`;
      if (this.ids.has(id)) continue;
      this.ids.add(id);
      this.rows.push({ seq: ++this.seq, runId: c.runId, at: c.at, data: JSON.stringify(c) });
    }
  }
  async list(runId: string, p: Page = {}) {
    const limit = limitOf(p);
    const after = p.after ?? 0;
    const mine = this.rows.filter((r) => r.runId === runId && r.seq > after).slice(0, limit);
    return paged(mine.map(row), limit);
  }
  async recent(w: Window) {
    const until = w.until ?? Infinity;
    const rows = this.rows.filter((r) => r.at >= w.since && r.at < until).sort((a, b) => b.at - a.at || b.seq - a.seq);
    return rows.slice(0, w.limit ?? rows.length).map(row);
  }
  async sweep(before: number) {
    const gone = this.rows.filter((r) => r.at < before);
    for (const r of gone) this.ids.delete(`${r.runId}\u0000${(JSON.parse(r.data) as CallJournalEntry).callId}`);
    this.rows = this.rows.filter((r) => r.at >= before);
    return gone.length;
  }
}

export class SqliteCallJournal implements CallJournalStore {
  private readonly insert;
  private readonly selectRun;
  private readonly selectRecent;
  private readonly deleteOld;
  constructor(
    db: SqliteDb,
    private readonly g: SqliteGuard,
  ) {
    this.insert = db.prepare("INSERT INTO calls (run_id, call_id, at, data) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, call_id) DO NOTHING");
    this.selectRun = db.prepare<[string, number, number], { seq: number; data: string }>("SELECT seq, data FROM calls WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    this.selectRecent = db.prepare<[number, number, number], { seq: number; data: string }>(
      "SELECT seq, data FROM calls WHERE at >= ? AND at < ? ORDER BY at DESC, seq DESC LIMIT ?",
    );
    this.deleteOld = db.prepare("DELETE FROM calls WHERE at < ?");
  }
  /** Inside the run store's commit (its write, one transaction), once the record is committed. */
  append(calls: readonly CallJournalEntry[] | undefined) {
    for (const c of calls ?? []) this.insert.run(c.runId, c.callId, c.at, JSON.stringify(c));
  }
  async list(runId: string, p: Page = {}) {
    const limit = limitOf(p);
    return this.g.read(() => paged(this.selectRun.all(runId, p.after ?? 0, limit).map(row), limit));
  }
  async recent(w: Window) {
    return this.g.read(() => this.selectRecent.all(w.since, w.until ?? 1e308, w.limit ?? ALL).map(row));
  }
  async sweep(before: number) {
    return this.g.write(() => this.deleteOld.run(before).changes);
  }
}

/**
 * The PostgreSQL statement's CTE that appends a committed run's entries: `from` is the CTE of
 * the runs whose compare-and-set succeeded, with their `run_id` and `journal` (JSON text);
 * `order` orders its rows (the group statement's item number). In the commit's own
 * statement, so the entries are there if and only if the record is.
 */
export function journalInsert(S: string, from: string, order: string): string {
  return `${from}j AS (INSERT INTO ${S}.calls (run_id, call_id, at, data)
    SELECT ${from}.run_id, e.value->>'callId', (e.value->>'at')::float8, e.value::text
      FROM ${from} CROSS JOIN LATERAL jsonb_array_elements(${from}.journal::jsonb) WITH ORDINALITY AS e(value, n)
     WHERE ${from}.journal IS NOT NULL ORDER BY ${order}e.n
    ON CONFLICT (run_id, call_id) DO NOTHING)`;
}

export class PgCallJournal implements CallJournalStore {
  constructor(
    private readonly db: PgQuery,
    private readonly S: string,
  ) {}
  async list(runId: string, p: Page = {}) {
    const limit = limitOf(p);
    const { rows } = await this.db.query<{ seq: string; data: string }>(
      "calls_list",
      `SELECT seq, data FROM ${this.S}.calls WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [runId, p.after ?? 0, limit],
    );
    return paged(rows.map(row), limit);
  }
  async recent(w: Window) {
    const { rows } = await this.db.query<{ seq: string; data: string }>(
      "calls_recent",
      `SELECT seq, data FROM ${this.S}.calls WHERE at >= $1 AND at < $2 ORDER BY at DESC, seq DESC LIMIT $3`,
      [w.since, w.until ?? 1e308, w.limit ?? ALL],
    );
    return rows.map(row);
  }
  async sweep(before: number) {
    const { rowCount } = await this.db.query("calls_sweep", `DELETE FROM ${this.S}.calls WHERE at < $1`, [before]);
    return rowCount ?? 0;
  }
}
