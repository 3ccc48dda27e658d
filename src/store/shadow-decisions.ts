/**
 * Where shadow mode's decisions are kept, in each store: an append-only table of what
 * would have been refused (memory, SQLite, PostgreSQL). Kept apart from the store files,
 * as its own concern: nothing on a call's path reads it back.
 */
import type { PgQuery } from "./postgres/alerts.js";
import type { SqliteGuard } from "./sqlite/alerts.js";
import type { Db as SqliteDb } from "./sqlite/driver.js";
import type { ShadowDecisionRecord, ShadowDecisionStore } from "./types.js";

type Filter = { since?: number; runId?: string; limit?: number };

export class MemoryShadowDecisions implements ShadowDecisionStore {
  /** As JSON text: what is listed is a copy, never the caller's object. */
  private readonly rows: { at: number; runId: string; data: string }[] = [];
  async record(decisions: ShadowDecisionRecord[]) {
    for (const d of decisions) this.rows.push({ at: d.at, runId: d.runId, data: JSON.stringify(d) });
  }
  async list(f: Filter = {}) {
    const since = f.since ?? -Infinity;
    const rows = this.rows.map((r, seq) => ({ ...r, seq })).filter((r) => r.at >= since && (f.runId === undefined || r.runId === f.runId));
    rows.sort((a, b) => b.at - a.at || b.seq - a.seq);
    return rows.slice(0, f.limit ?? rows.length).map((r) => JSON.parse(r.data) as ShadowDecisionRecord);
  }
}

const parse = (r: { data: string }) => JSON.parse(r.data) as ShadowDecisionRecord;
/** No limit, in a form both databases take as a number. */
const ALL = Number.MAX_SAFE_INTEGER;

export class SqliteShadowDecisions implements ShadowDecisionStore {
  private readonly insert;
  private readonly select;
  constructor(
    db: SqliteDb,
    private readonly g: SqliteGuard,
  ) {
    this.insert = db.prepare("INSERT INTO shadow_decisions (at, run_id, data) VALUES (?, ?, ?)");
    this.select = db.prepare<[{ since: number; runId: string | null; limit: number }], { data: string }>(
      "SELECT data FROM shadow_decisions WHERE at >= @since AND (@runId IS NULL OR run_id = @runId) ORDER BY at DESC, seq DESC LIMIT @limit",
    );
  }
  async record(decisions: ShadowDecisionRecord[]) {
    const rows = decisions.map((d) => [d.at, d.runId, JSON.stringify(d)] as const);
    // One write: the store's writer commits it as one transaction.
    await this.g.write(() => rows.forEach((r) => this.insert.run(...r)));
  }
  async list(f: Filter = {}) {
    return this.g.read(() => this.select.all({ since: f.since ?? -1e308, runId: f.runId ?? null, limit: f.limit ?? ALL }).map(parse));
  }
}

export class PgShadowDecisions implements ShadowDecisionStore {
  constructor(
    private readonly db: PgQuery,
    private readonly S: string,
  ) {}
  async record(decisions: ShadowDecisionRecord[]) {
    if (decisions.length === 0) return;
    await this.db.query(
      "shadow_record",
      `INSERT INTO ${this.S}.shadow_decisions (at, run_id, data) SELECT * FROM unnest($1::double precision[], $2::text[], $3::text[])`,
      [decisions.map((d) => d.at), decisions.map((d) => d.runId), decisions.map((d) => JSON.stringify(d))],
    );
  }
  async list(f: Filter = {}) {
    const { rows } = await this.db.query<{ data: string }>(
      "shadow_list",
      `SELECT data FROM ${this.S}.shadow_decisions WHERE at >= $1 AND ($2::text IS NULL OR run_id = $2) ORDER BY at DESC, seq DESC LIMIT $3`,
      [f.since ?? -1e308, f.runId ?? null, f.limit ?? ALL],
    );
    return rows.map(parse);
  }
}
