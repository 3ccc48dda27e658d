/** The SQLite store's other records: breakers, runs, mutations, approvals, handoffs, freezes. */
import type { Db } from "./sqlite-driver.js";
import {
  approvalRecord,
  breakerRecord,
  freezeRecord,
  handoffRecord,
  mutationRecord,
  runData,
  runParts,
  runRecord,
  type ApprovalRow,
  type MutationRow,
  type RunRow,
} from "./durable.js";
import type { SqliteGuard } from "./sqlite-alerts.js";
import type { SqliteCallJournal } from "./call-journal.js";
import type {
  ApprovalRecord,
  ApprovalStore,
  BreakerRecord,
  BreakerStore,
  CallJournalEntry,
  CommitResult,
  FreezeRecord,
  FreezeStore,
  HandoffRecord,
  HandoffStore,
  MutationRecord,
  MutationStore,
  RunRecord,
  RunStore,
} from "./types.js";

export class SqliteBreakers implements BreakerStore {
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

export class SqliteRuns implements RunStore {
  private readonly selectOne;
  private readonly insert;
  private readonly update;
  private readonly stop;
  private readonly exists;
  private readonly selectStop;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard, private readonly journal: SqliteCallJournal) {
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
  async commit(prev: RunRecord, next: RunRecord, calls?: readonly CallJournalEntry[]): Promise<CommitResult> {
    const data = runData(next);
    const p = runParts(prev, next);
    return this.g.write((): CommitResult => {
      if (this.update.run(next.version, next.status, data, p.facts, p.history, p.handoff, prev.runId, prev.version).changes === 1) {
        this.journal.append(prev.runId, calls);
        return { committed: true };
      }
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

export class SqliteMutations implements MutationStore {
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

export class SqliteApprovals implements ApprovalStore {
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

export class SqliteHandoffs implements HandoffStore {
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

export class SqliteFreezes implements FreezeStore {
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
