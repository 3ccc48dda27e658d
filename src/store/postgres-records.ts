/** The PostgreSQL store's other records: breakers, runs, mutations, approvals, handoffs, freezes. */
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
} from "./durable.js";
import { journalInsert, journalRow } from "./call-journal.js";
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
} from "./types.js";
import { Db, mutationPart, runCommitPart, freezeListPart } from "./postgres-db.js";

export class PgBreakers implements BreakerStore {
  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {}
  async get(tool: string) {
    const { rows } = await this.db.query<{ data: string }>("breaker_get", `SELECT data FROM ${this.S}.breakers WHERE tool = $1`, [tool]);
    return rows[0] && breakerRecord(rows[0]);
  }
  async put(record: BreakerRecord) {
    await this.db.query(
      "breaker_put",
      `INSERT INTO ${this.S}.breakers (tool, data) VALUES ($1, $2) ON CONFLICT (tool) DO UPDATE SET data = EXCLUDED.data`,
      [record.tool, JSON.stringify(record)],
    );
  }
  async list() {
    const { rows } = await this.db.query<{ data: string }>("breaker_list", `SELECT data FROM ${this.S}.breakers ORDER BY seq`);
    return rows.map(breakerRecord);
  }
}

const RUN_COLS = "stop_reason, stop_at, version, data, facts, history, handoff";

export class PgRuns implements RunStore {
  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {}
  async get(runId: string) {
    const { rows } = await this.db.query<RunRow>("run_get", `SELECT ${RUN_COLS} FROM ${this.S}.runs WHERE run_id = $1`, [runId]);
    return rows[0] && runRecord(rows[0]);
  }
  async create(record: RunRecord) {
    const p = runParts(undefined, record);
    const { rowCount } = await this.db.query(
      "run_create",
      `INSERT INTO ${this.S}.runs (run_id, status, started_at, version, data, facts, history, handoff)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id) DO NOTHING`,
      [record.runId, record.status, record.startedAt, record.version, runData(record), p.facts, p.history, p.handoff],
    );
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
      alone: async () =>
        (
          await this.db.query(
            "run_commit",
            `WITH w AS (UPDATE ${this.S}.runs SET version = $3, status = $4, data = $5, facts = COALESCE($6, facts),
               history = COALESCE($7, history), handoff = COALESCE($8, handoff) WHERE run_id = $1 AND version = $2
               RETURNING run_id, $9::text AS journal, $10::float8 AS journal_first, $11::float8 AS journal_last), ${journalInsert(this.S, "w")}
             SELECT 1 FROM w`,
            row,
          )
        ).rowCount === 1,
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
        text: `WITH s AS (UPDATE ${this.S}.runs SET stop_at = $3, stop_reason = $2, version = version + 1
                  WHERE run_id = $1 AND stop_reason IS NULL RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM s) OR EXISTS (SELECT 1 FROM ${this.S}.runs WHERE run_id = $1) AS stopped`,
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
    const { rows } = await this.db.query<{ stop_reason: string | null; stop_at: number | null }>("run_stop_get", `SELECT stop_reason, stop_at FROM ${this.S}.runs WHERE run_id = $1`, [runId]);
    const r = rows[0];
    return r && r.stop_reason !== null && r.stop_at !== null ? { reason: r.stop_reason, at: Number(r.stop_at) } : undefined;
  }
  async list(filter: { status?: RunRecord["status"]; limit?: number } = {}) {
    const limit = filter.limit === undefined ? null : Math.max(0, Math.floor(filter.limit));
    const { rows } = await this.db.query<RunRow>(
      "run_list",
      `SELECT ${RUN_COLS} FROM ${this.S}.runs WHERE ($1::text IS NULL OR status = $1)
       ORDER BY started_at DESC, seq ASC LIMIT $2`,
      [filter.status ?? null, limit],
    );
    return rows.map(runRecord);
  }
}

export class PgMutations implements MutationStore {
  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {}
  async record(m: MutationRecord) {
    const row = [m.id, m.runId, m.seq, m.status, m.error ?? null, JSON.stringify(m)];
    await this.db.batched<void>({
      part: mutationPart,
      lock: `m\u0000${m.id}`,
      row,
      answer: () => undefined,
      alone: async () => {
        await this.db.query(
          "mutation_record",
          `INSERT INTO ${this.S}.mutations (id, run_id, run_seq, status, error, data) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, run_seq = EXCLUDED.run_seq,
             status = EXCLUDED.status, error = EXCLUDED.error, data = EXCLUDED.data`,
          row,
        );
      },
    });
  }
  async list(runId: string) {
    const { rows } = await this.db.query<MutationRow>(
      "mutation_list",
      `SELECT status, error, data FROM ${this.S}.mutations WHERE run_id = $1 ORDER BY run_seq, seq`,
      [runId],
    );
    return rows.map(mutationRecord);
  }
  async transition(id: string, from: MutationRecord["status"], to: MutationRecord["status"], error?: string) {
    const { rowCount } = await this.db.query(
      "mutation_transition",
      `UPDATE ${this.S}.mutations SET status = $3, error = COALESCE($4, error) WHERE id = $1 AND status = $2`,
      [id, from, to, error ?? null],
    );
    return rowCount === 1;
  }
}

const APPROVAL_COLS = "status, decided_at, decided_by, decision_reason, data";

export class PgApprovals implements ApprovalStore {
  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {}
  async create(a: ApprovalRecord) {
    await this.db.query(
      "approval_create",
      `INSERT INTO ${this.S}.approvals (id, run_id, fingerprint, status, requested_at, decided_at, decided_by, decision_reason, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, fingerprint = EXCLUDED.fingerprint,
         status = EXCLUDED.status, requested_at = EXCLUDED.requested_at, decided_at = EXCLUDED.decided_at,
         decided_by = EXCLUDED.decided_by, decision_reason = EXCLUDED.decision_reason, data = EXCLUDED.data`,
      [a.id, a.runId, a.fingerprint, a.status, a.requestedAt, a.decidedAt ?? null, a.by ?? null, a.reason ?? null, JSON.stringify(a)],
    );
  }
  async get(id: string) {
    const { rows } = await this.db.query<ApprovalRow>("approval_get", `SELECT ${APPROVAL_COLS} FROM ${this.S}.approvals WHERE id = $1`, [id]);
    return rows[0] && approvalRecord(rows[0]);
  }
  async find(runId: string, fingerprint: string) {
    const { rows } = await this.db.query<ApprovalRow>(
      "approval_find",
      `SELECT ${APPROVAL_COLS} FROM ${this.S}.approvals WHERE run_id = $1 AND fingerprint = $2
       ORDER BY requested_at DESC, seq DESC LIMIT 1`,
      [runId, fingerprint],
    );
    return rows[0] && approvalRecord(rows[0]);
  }
  async list(filter: { status?: ApprovalRecord["status"]; runId?: string } = {}) {
    const { rows } = await this.db.query<ApprovalRow>(
      "approval_list",
      `SELECT ${APPROVAL_COLS} FROM ${this.S}.approvals
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR run_id = $2) ORDER BY requested_at, seq`,
      [filter.status ?? null, filter.runId ?? null],
    );
    return rows.map(approvalRecord);
  }
  async decide(id: string, d: { status: "approved" | "denied"; by: string; reason?: string; at: number }) {
    const { rows } = await this.db.query<ApprovalRow>(
      "approval_decide",
      `UPDATE ${this.S}.approvals SET status = $2, decided_by = $3, decided_at = $4,
         decision_reason = COALESCE($5, decision_reason)
       WHERE id = $1 AND status = 'pending' RETURNING ${APPROVAL_COLS}`,
      [id, d.status, d.by, d.at, d.reason ?? null],
    );
    if (rows[0]) return approvalRecord(rows[0]);
    // Not pending (or unknown): a new statement sees any decision that beat this one.
    return this.get(id);
  }
}

export class PgHandoffs implements HandoffStore {
  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {}
  async create(h: HandoffRecord) {
    await this.db.query(
      "handoff_create",
      `INSERT INTO ${this.S}.handoffs (id, run_id, status, data) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, status = EXCLUDED.status, data = EXCLUDED.data`,
      [h.id, h.runId, h.status, JSON.stringify(h)],
    );
  }
  async list(filter: { status?: HandoffRecord["status"]; runId?: string } = {}) {
    const { rows } = await this.db.query<{ data: string }>(
      "handoff_list",
      `SELECT data FROM ${this.S}.handoffs WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR run_id = $2) ORDER BY seq`,
      [filter.status ?? null, filter.runId ?? null],
    );
    return rows.map(handoffRecord);
  }
}

export class PgFreezes implements FreezeStore {
  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {}
  async put(f: FreezeRecord) {
    await this.db.query(
      "freeze_put",
      `INSERT INTO ${this.S}.freezes (id, at, data) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at, data = EXCLUDED.data`,
      [f.id, f.at, JSON.stringify(f)],
    );
  }
  async lift(id?: string) {
    const { rowCount } =
      id === undefined
        ? await this.db.query("freeze_lift_all", `DELETE FROM ${this.S}.freezes`)
        : await this.db.query("freeze_lift", `DELETE FROM ${this.S}.freezes WHERE id = $1`, [id]);
    return rowCount ?? 0;
  }
  async list() {
    return this.db.batched<FreezeRecord[]>({
      part: freezeListPart,
      row: [],
      answer: (rows) => rows.sort((x, y) => (x.b! < y.b! ? -1 : 1)).map((r) => freezeRecord({ data: r.c! })),
      alone: async () => {
        const { rows } = await this.db.query<{ data: string }>("freeze_list", `SELECT data FROM ${this.S}.freezes ORDER BY at, seq`);
        return rows.map(freezeRecord);
      },
    });
  }
}
