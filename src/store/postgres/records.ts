/** The PostgreSQL store's other records: breakers, runs, mutations, approvals, handoffs, freezes (SQL in sql/records.ts). */
import {
  approvalRecord,
  breakerRecord,
  freezeRecord,
  handoffRecord,
  mutationRecord,
  runData,
  runParts,
  runRecord,
  storeClosed,
  type ApprovalRow,
  type MutationRow,
  type RunRow,
} from "../durable.js";
import { journalInsert, journalRow } from "../call-journal.js";
import {
  StoreUnavailableError,
  type ApprovalRecord,
  type ApprovalStore,
  type BreakerRecord,
  type BreakerStore,
  type CallJournalEntry,
  type CommitResult,
  type FreezeRecord,
  type FreezeStore,
  type HandoffRecord,
  type HandoffStore,
  type MutationRecord,
  type MutationStore,
  type RunRecord,
  type RunStore,
} from "../types.js";
import { Db, mutationPart, runCommitPart, freezeListPart } from "./db.js";
import { NO_LIMIT } from "../sql/dialect.js";
import type { RecordSql } from "../sql/records.js";

/** Each record type's queries: on the store's pool, in its schema's statements. */
abstract class PgRecords {
  constructor(
    protected readonly db: Db,
    protected readonly sql: RecordSql,
  ) {}
}

export class PgBreakers extends PgRecords implements BreakerStore {
  async get(tool: string) {
    const { rows } = await this.db.query<{ data: string }>("breaker_get", this.sql.breakerGet, [tool]);
    return rows[0] && breakerRecord(rows[0]);
  }
  async put(record: BreakerRecord) {
    await this.db.query("breaker_put", this.sql.breakerPut, [record.tool, JSON.stringify(record)]);
  }
  async list() {
    const { rows } = await this.db.query<{ data: string }>("breaker_list", this.sql.breakerList);
    return rows.map(breakerRecord);
  }
}

export class PgRuns extends PgRecords implements RunStore {
  constructor(
    db: Db,
    sql: RecordSql,
    /** The schema, for the call journal's insert beside a commit. */
    private readonly S: string,
  ) {
    super(db, sql);
  }
  async get(runId: string) {
    const { rows } = await this.db.query<RunRow>("run_get", this.sql.runGet, [runId]);
    return rows[0] && runRecord(rows[0]);
  }
  async create(record: RunRecord) {
    const p = runParts(undefined, record);
    const row = [record.runId, record.status, record.startedAt, record.version, runData(record), p.facts, p.history, p.handoff];
    const { rowCount } = await this.db.query("run_create", this.sql.runCreate, row);
    // Not created: a new statement (a new snapshot) sees the row that another creator committed.
    const stored = await this.get(record.runId);
    if (!stored) throw new StoreUnavailableError(`PostgreSQL at ${this.db.r.shown}: run ${record.runId} vanished while it was created`);
    return { created: rowCount === 1, record: stored };
  }
  async commit(prev: RunRecord, next: RunRecord, calls?: readonly CallJournalEntry[]): Promise<CommitResult> {
    const p = runParts(prev, next);
    const row = [prev.runId, prev.version, next.version, next.status, runData(next), p.facts, p.history, p.handoff, ...journalRow(calls)];
    const committed = await this.db.batched<boolean>({
      part: runCommitPart,
      lock: `r\u0000${prev.runId}`,
      row,
      answer: (rows) => rows.length === 1,
      alone: async () => {
        const text = `WITH w AS (${this.sql.runCommit}
            RETURNING run_id, $9::text AS journal, $10::float8 AS journal_first, $11::float8 AS journal_last), ${journalInsert(this.S, "w")}
          SELECT 1 FROM w`;
        return (await this.db.query("run_commit", text, row)).rowCount === 1;
      },
    });
    return committed ? { committed } : { committed, current: await this.get(prev.runId) };
  }
  /**
   * In a transaction that first locks the idempotency table against writers (SHARE: claims
   * in flight commit first, new ones wait for this one), so that a claim's statement either
   * sees the stop or commits before it (see claimPart): a stop is rare, a claim is not.
   */
  async requestStop(runId: string, reason: string, at: number) {
    if (this.db.closed) throw storeClosed("PostgreSQL");
    let client;
    try {
      client = await this.db.pool.connect();
    } catch (e) {
      throw this.db.error(e);
    }
    try {
      await client.query("BEGIN");
      await client.query(`LOCK TABLE ${this.S}.idempotency IN SHARE MODE`);
      const { rows } = await client.query<{ stopped: boolean }>({
        name: `${this.db.r.schema}_run_stop`,
        text: `WITH s AS (${this.sql.runStop} RETURNING 1) SELECT EXISTS (SELECT 1 FROM s) OR EXISTS (${this.sql.runExists}) AS stopped`,
        values: [runId, reason, at],
      });
      await client.query("COMMIT");
      client.release();
      return rows[0]?.stopped === true;
    } catch (e) {
      // The connection's state is unknown (a transaction left open): it is not reused.
      client.release(true);
      throw this.db.error(e);
    }
  }
  async stopRequested(runId: string) {
    const { rows } = await this.db.query<{ stop_reason: string | null; stop_at: number | null }>("run_stop_get", this.sql.runStopGet, [runId]);
    const r = rows[0];
    return r && r.stop_reason !== null && r.stop_at !== null ? { reason: r.stop_reason, at: Number(r.stop_at) } : undefined;
  }
  async list(filter: { status?: RunRecord["status"]; limit?: number } = {}) {
    const limit = filter.limit === undefined ? NO_LIMIT : Math.max(0, Math.floor(filter.limit));
    const { rows } = await this.db.query<RunRow>("run_list", this.sql.runList, [filter.status ?? null, limit]);
    return rows.map(runRecord);
  }
}

export class PgMutations extends PgRecords implements MutationStore {
  async record(m: MutationRecord) {
    const row = [m.id, m.runId, m.seq, m.status, m.error ?? null, JSON.stringify(m)];
    await this.db.batched<void>({
      part: mutationPart,
      lock: `m\u0000${m.id}`,
      row,
      answer: () => undefined,
      alone: async () => {
        await this.db.query("mutation_record", this.sql.mutationRecord, row);
      },
    });
  }
  async list(runId: string) {
    const { rows } = await this.db.query<MutationRow>("mutation_list", this.sql.mutationList, [runId]);
    return rows.map(mutationRecord);
  }
  async transition(id: string, from: MutationRecord["status"], to: MutationRecord["status"], error?: string) {
    const { rowCount } = await this.db.query("mutation_transition", this.sql.mutationTransition, [id, from, to, error ?? null]);
    return rowCount === 1;
  }
}

export class PgApprovals extends PgRecords implements ApprovalStore {
  async create(a: ApprovalRecord) {
    const row = [a.id, a.runId, a.fingerprint, a.status, a.requestedAt, a.decidedAt ?? null, a.by ?? null, a.reason ?? null, JSON.stringify(a)];
    await this.db.query("approval_create", this.sql.approvalCreate, row);
  }
  async get(id: string) {
    const { rows } = await this.db.query<ApprovalRow>("approval_get", this.sql.approvalGet, [id]);
    return rows[0] && approvalRecord(rows[0]);
  }
  async find(runId: string, fingerprint: string) {
    const { rows } = await this.db.query<ApprovalRow>("approval_find", this.sql.approvalFind, [runId, fingerprint]);
    return rows[0] && approvalRecord(rows[0]);
  }
  async list(filter: { status?: ApprovalRecord["status"]; runId?: string } = {}) {
    const { rows } = await this.db.query<ApprovalRow>("approval_list", this.sql.approvalList, [filter.status ?? null, filter.runId ?? null]);
    return rows.map(approvalRecord);
  }
  async decide(id: string, d: { status: "approved" | "denied"; by: string; reason?: string; at: number }) {
    const { rows } = await this.db.query<ApprovalRow>("approval_decide", this.sql.approvalDecide, [id, d.status, d.by, d.at, d.reason ?? null]);
    if (rows[0]) return approvalRecord(rows[0]);
    // Not pending (or unknown): a new statement sees any decision that beat this one.
    return this.get(id);
  }
}

export class PgHandoffs extends PgRecords implements HandoffStore {
  async create(h: HandoffRecord) {
    await this.db.query("handoff_create", this.sql.handoffCreate, [h.id, h.runId, h.status, JSON.stringify(h)]);
  }
  async list(filter: { status?: HandoffRecord["status"]; runId?: string } = {}) {
    const { rows } = await this.db.query<{ data: string }>("handoff_list", this.sql.handoffList, [filter.status ?? null, filter.runId ?? null]);
    return rows.map(handoffRecord);
  }
}

export class PgFreezes extends PgRecords implements FreezeStore {
  async put(f: FreezeRecord) {
    await this.db.query("freeze_put", this.sql.freezePut, [f.id, f.at, JSON.stringify(f)]);
  }
  async lift(id?: string) {
    const { rowCount } =
      id === undefined
        ? await this.db.query("freeze_lift_all", this.sql.freezeLiftAll)
        : await this.db.query("freeze_lift", this.sql.freezeLift, [id]);
    return rowCount ?? 0;
  }
  async list() {
    return this.db.batched<FreezeRecord[]>({
      part: freezeListPart,
      row: [],
      answer: (rows) => rows.sort((x, y) => (x.b! < y.b! ? -1 : 1)).map((r) => freezeRecord({ data: r.c! })),
      alone: async () => {
        const { rows } = await this.db.query<{ data: string }>("freeze_list", this.sql.freezeList);
        return rows.map(freezeRecord);
      },
    });
  }
}
