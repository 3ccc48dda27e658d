/** The SQLite store's other records: breakers, runs, mutations, approvals, handoffs, freezes (SQL in sql/records.ts). */
import type { Db } from "./driver.js";
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
} from "../durable.js";
import type { SqliteGuard } from "./alerts.js";
import type { SqliteCallJournal } from "../call-journal.js";
import { dialect, NO_LIMIT, params } from "../sql/dialect.js";
import { recordSql } from "../sql/records.js";
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
} from "../types.js";

const sql = recordSql(dialect.sqlite);
type Params = [Record<string, unknown>];

export class SqliteBreakers implements BreakerStore {
  private readonly selectOne;
  private readonly selectAll;
  private readonly upsert;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.selectOne = db.prepare<Params, { data: string }>(sql.breakerGet);
    this.selectAll = db.prepare<[], { data: string }>(sql.breakerList);
    this.upsert = db.prepare<Params>(sql.breakerPut);
  }
  async get(tool: string) {
    return this.g.read(() => {
      const r = this.selectOne.get(params(tool));
      return r && breakerRecord(r);
    });
  }
  async put(record: BreakerRecord) {
    const data = JSON.stringify(record);
    await this.g.write(() => this.upsert.run(params(record.tool, data)));
  }
  async list() {
    return this.g.read(() => this.selectAll.all().map(breakerRecord));
  }
}

export class SqliteRuns implements RunStore {
  private readonly selectOne;
  private readonly insert;
  private readonly update;
  private readonly stop;
  private readonly exists;
  private readonly selectStop;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard, private readonly journal: SqliteCallJournal) {
    this.selectList = db.prepare<Params, RunRow>(sql.runList);
    this.selectOne = db.prepare<Params, RunRow>(sql.runGet);
    this.insert = db.prepare<Params>(sql.runCreate);
    this.update = db.prepare<Params>(sql.runCommit);
    this.stop = db.prepare<Params>(sql.runStop);
    this.exists = db.prepare<Params>(sql.runExists).pluck();
    this.selectStop = db.prepare<Params, { stop_reason: string | null; stop_at: number | null }>(sql.runStopGet);
  }
  async get(runId: string) {
    return this.g.read(() => {
      const r = this.selectOne.get(params(runId));
      return r && runRecord(r);
    });
  }
  async create(record: RunRecord) {
    const data = runData(record);
    const p = runParts(undefined, record);
    return this.g.write(() => {
      const created = this.insert.run(params(record.runId, record.status, record.startedAt, record.version, data, p.facts, p.history, p.handoff)).changes === 1;
      return { created, record: runRecord(this.selectOne.get(params(record.runId))!) };
    });
  }
  async commit(prev: RunRecord, next: RunRecord, calls?: readonly CallJournalEntry[]): Promise<CommitResult> {
    const data = runData(next);
    const p = runParts(prev, next);
    return this.g.write((): CommitResult => {
      if (this.update.run(params(prev.runId, prev.version, next.version, next.status, data, p.facts, p.history, p.handoff)).changes === 1) {
        this.journal.append(prev.runId, calls);
        return { committed: true };
      }
      const r = this.selectOne.get(params(prev.runId));
      return { committed: false, current: r && runRecord(r) };
    });
  }
  async requestStop(runId: string, reason: string, at: number) {
    return this.g.write(() => this.stop.run(params(runId, reason, at)).changes === 1 || this.exists.get(params(runId)) !== undefined);
  }
  async stopRequested(runId: string) {
    return this.g.read(() => {
      const r = this.selectStop.get(params(runId));
      return r && r.stop_reason !== null && r.stop_at !== null ? { reason: r.stop_reason, at: Number(r.stop_at) } : undefined;
    });
  }
  async list(filter: { status?: RunRecord["status"]; limit?: number } = {}) {
    const limit = filter.limit === undefined ? NO_LIMIT : Math.max(0, Math.floor(filter.limit));
    return this.g.read(() => this.selectList.all(params(filter.status ?? null, limit)).map(runRecord));
  }
}

export class SqliteMutations implements MutationStore {
  private readonly upsert;
  private readonly selectRun;
  private readonly move;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.upsert = db.prepare<Params>(sql.mutationRecord);
    this.selectRun = db.prepare<Params, MutationRow>(sql.mutationList);
    this.move = db.prepare<Params>(sql.mutationTransition);
  }
  async record(m: MutationRecord) {
    const data = JSON.stringify(m);
    await this.g.write(() => this.upsert.run(params(m.id, m.runId, m.seq, m.status, m.error ?? null, data)));
  }
  async list(runId: string) {
    return this.g.read(() => this.selectRun.all(params(runId)).map(mutationRecord));
  }
  async transition(id: string, from: MutationRecord["status"], to: MutationRecord["status"], error?: string) {
    return this.g.write(() => this.move.run(params(id, from, to, error ?? null)).changes === 1);
  }
}

export class SqliteApprovals implements ApprovalStore {
  private readonly upsert;
  private readonly selectOne;
  private readonly selectFind;
  private readonly decideStmt;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.upsert = db.prepare<Params>(sql.approvalCreate);
    this.selectOne = db.prepare<Params, ApprovalRow>(sql.approvalGet);
    this.selectFind = db.prepare<Params, ApprovalRow>(sql.approvalFind);
    this.selectList = db.prepare<Params, ApprovalRow>(sql.approvalList);
    this.decideStmt = db.prepare<Params, ApprovalRow>(sql.approvalDecide);
  }
  async create(a: ApprovalRecord) {
    const data = JSON.stringify(a);
    await this.g.write(() =>
      this.upsert.run(params(a.id, a.runId, a.fingerprint, a.status, a.requestedAt, a.decidedAt ?? null, a.by ?? null, a.reason ?? null, data)),
    );
  }
  async get(id: string) {
    return this.g.read(() => {
      const r = this.selectOne.get(params(id));
      return r && approvalRecord(r);
    });
  }
  async find(runId: string, fingerprint: string) {
    return this.g.read(() => {
      const r = this.selectFind.get(params(runId, fingerprint));
      return r && approvalRecord(r);
    });
  }
  async list(filter: { status?: ApprovalRecord["status"]; runId?: string } = {}) {
    return this.g.read(() => this.selectList.all(params(filter.status ?? null, filter.runId ?? null)).map(approvalRecord));
  }
  async decide(id: string, d: { status: "approved" | "denied"; by: string; reason?: string; at: number }) {
    return this.g.write(() => {
      // Not pending (or unknown): the record as it stands, with the decision that came first.
      const r = this.decideStmt.get(params(id, d.status, d.by, d.at, d.reason ?? null)) ?? this.selectOne.get(params(id));
      return r && approvalRecord(r);
    });
  }
}

export class SqliteHandoffs implements HandoffStore {
  private readonly upsert;
  private readonly selectList;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.selectList = db.prepare<Params, { data: string }>(sql.handoffList);
    this.upsert = db.prepare<Params>(sql.handoffCreate);
  }
  async create(h: HandoffRecord) {
    const data = JSON.stringify(h);
    await this.g.write(() => this.upsert.run(params(h.id, h.runId, h.status, data)));
  }
  async list(filter: { status?: HandoffRecord["status"]; runId?: string } = {}) {
    return this.g.read(() => this.selectList.all(params(filter.status ?? null, filter.runId ?? null)).map(handoffRecord));
  }
}

export class SqliteFreezes implements FreezeStore {
  private readonly upsert;
  private readonly deleteOne;
  private readonly deleteAll;
  private readonly selectAll;
  constructor(db: Db, private readonly g: SqliteGuard) {
    this.upsert = db.prepare<Params>(sql.freezePut);
    this.deleteOne = db.prepare<Params>(sql.freezeLift);
    this.deleteAll = db.prepare(sql.freezeLiftAll);
    this.selectAll = db.prepare<[], { data: string }>(sql.freezeList);
  }
  async put(f: FreezeRecord) {
    const data = JSON.stringify(f);
    await this.g.write(() => this.upsert.run(params(f.id, f.at, data)));
  }
  async lift(id?: string) {
    return this.g.write(() => (id === undefined ? this.deleteAll.run() : this.deleteOne.run(params(id))).changes);
  }
  /** Read before every change (FreezeBoard.refresh), so it rides the change's own transaction. */
  async list() {
    return this.g.readWithWrites(() => this.selectAll.all().map(freezeRecord));
  }
}
