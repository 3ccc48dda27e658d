/** The SQLite store's alerts and monitors (semantics in types.ts, SQL in alerts-sql.ts). */
import { alertRecord, alertSql, monitorRecord, raiseParams, type AlertRow, type MonitorRow } from "../alerts-sql.js";
import { dialect, NO_LIMIT, params } from "../sql/dialect.js";
import type { Db } from "./driver.js";
import type { AlertRecord, AlertStore, MonitorStore, NewAlert } from "../types.js";

/** How the SQLite store runs an operation: writes in an IMMEDIATE transaction, all failing as StoreUnavailableError. */
export interface SqliteGuard {
  write<T>(op: () => T): Promise<T>;
  read<T>(op: () => T): Promise<T>;
  /** A read asked right before writes: it joins the transaction of this turn's writes (see Writer). */
  readWithWrites<T>(op: () => T): Promise<T>;
}

const sql = alertSql(dialect.sqlite);
type Named = Record<string, unknown>;

export class SqliteAlerts implements AlertStore {
  private readonly raiseStmt;
  private readonly resolveStmt;
  private readonly ackStmt;
  private readonly getStmt;
  private readonly listStmt;

  constructor(
    db: Db,
    private readonly g: SqliteGuard,
  ) {
    this.raiseStmt = db.prepare<[Named], AlertRow>(sql.raise);
    this.resolveStmt = db.prepare<[Named], AlertRow>(sql.resolve);
    this.ackStmt = db.prepare<[Named], AlertRow>(sql.acknowledge);
    this.getStmt = db.prepare<[Named], AlertRow>(sql.get);
    this.listStmt = db.prepare<[Named], AlertRow>(sql.list);
  }

  async raise(a: NewAlert) {
    const alert = alertRecord(await this.g.write(() => this.raiseStmt.get(params(...raiseParams(a)))!));
    return { alert, fresh: alert.count === 1 };
  }

  async resolve(key: string, at: number) {
    const row = await this.g.write(() => this.resolveStmt.get(params(key, at)));
    return row && alertRecord(row);
  }

  async acknowledge(id: string, by: string, at: number) {
    const row = await this.g.write(() => this.ackStmt.get(params(id, by, at)) ?? this.getStmt.get(params(id)));
    return row && alertRecord(row);
  }

  async get(id: string) {
    const row = await this.g.read(() => this.getStmt.get(params(id)));
    return row && alertRecord(row);
  }

  async list(filter: { state?: AlertRecord["state"]; limit?: number } = {}) {
    return (await this.g.read(() => this.listStmt.all(params(filter.state ?? null, filter.limit ?? NO_LIMIT)))).map(alertRecord);
  }
}

export class SqliteMonitors implements MonitorStore {
  private readonly getStmt;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly listStmt;

  constructor(
    db: Db,
    private readonly g: SqliteGuard,
  ) {
    this.getStmt = db.prepare<[Named], MonitorRow>(sql.monitorGet);
    this.insertStmt = db.prepare<[Named]>(sql.monitorInsert);
    this.updateStmt = db.prepare<[Named]>(sql.monitorUpdate);
    this.listStmt = db.prepare<[], MonitorRow>(sql.monitorList);
  }

  async get(key: string) {
    const row = await this.g.read(() => this.getStmt.get(params(key)));
    return row && monitorRecord(row);
  }

  async put(key: string, expected: number, data: unknown, at: number) {
    const text = JSON.stringify(data);
    const changed = await this.g.write(() => (expected === 0 ? this.insertStmt.run(params(key, text, at)) : this.updateStmt.run(params(key, text, at, expected))).changes);
    return changed === 1;
  }

  async list() {
    return (await this.g.read(() => this.listStmt.all())).map(monitorRecord);
  }
}
