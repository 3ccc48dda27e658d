/** The PostgreSQL store's alerts and monitors (semantics in types.ts, SQL in alerts-sql.ts). */
import type pg from "pg";
import { alertRecord, alertSql, monitorRecord, raiseParams, type AlertRow, type MonitorRow } from "../alerts-sql.js";
import { dialect, NO_LIMIT } from "../sql/dialect.js";
import type { AlertRecord, AlertStore, MonitorStore, NewAlert } from "../types.js";

/** A named (prepared once per connection) query that fails as StoreUnavailableError. */
export interface PgQuery {
  query<R extends pg.QueryResultRow>(name: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const statements = (S: string) => alertSql(dialect.postgres(S));

export class PgAlerts implements AlertStore {
  private readonly sql;
  constructor(
    private readonly db: PgQuery,
    S: string,
  ) {
    this.sql = statements(S);
  }

  async raise(a: NewAlert) {
    const { rows } = await this.db.query<AlertRow>("alert_raise", this.sql.raise, raiseParams(a));
    const alert = alertRecord(rows[0]!);
    return { alert, fresh: alert.count === 1 };
  }

  async resolve(key: string, at: number) {
    const { rows } = await this.db.query<AlertRow>("alert_resolve", this.sql.resolve, [key, at]);
    return rows[0] && alertRecord(rows[0]);
  }

  async acknowledge(id: string, by: string, at: number) {
    const { rows } = await this.db.query<AlertRow>("alert_ack", this.sql.acknowledge, [id, by, at]);
    return rows[0] ? alertRecord(rows[0]) : this.get(id);
  }

  async get(id: string) {
    const { rows } = await this.db.query<AlertRow>("alert_get", this.sql.get, [id]);
    return rows[0] && alertRecord(rows[0]);
  }

  async list(filter: { state?: AlertRecord["state"]; limit?: number } = {}) {
    const { rows } = await this.db.query<AlertRow>("alert_list", this.sql.list, [filter.state ?? null, filter.limit ?? NO_LIMIT]);
    return rows.map(alertRecord);
  }
}

export class PgMonitors implements MonitorStore {
  private readonly sql;
  constructor(
    private readonly db: PgQuery,
    S: string,
  ) {
    this.sql = statements(S);
  }

  async get(key: string) {
    const { rows } = await this.db.query<MonitorRow>("monitor_get", this.sql.monitorGet, [key]);
    return rows[0] && monitorRecord(rows[0]);
  }

  async put(key: string, expected: number, data: unknown, at: number) {
    const text = JSON.stringify(data);
    const { rowCount } =
      expected === 0
        ? await this.db.query("monitor_insert", this.sql.monitorInsert, [key, text, at])
        : await this.db.query("monitor_update", this.sql.monitorUpdate, [key, text, at, expected]);
    return rowCount === 1;
  }

  async list() {
    const { rows } = await this.db.query<MonitorRow>("monitor_list", this.sql.monitorList);
    return rows.map(monitorRecord);
  }
}
