/**
 * The SQL of alerts and monitors, one text for SQLite and PostgreSQL (both speak
 * `INSERT … ON CONFLICT … WHERE` on a partial index, and RETURNING), with the rows turned
 * back into records in one place. The dialect (sql/dialect.ts) names the tables and spells the
 * parameters.
 */
import type { Dialect } from "./sql/dialect.js";
import type { AlertRecord, MonitorRecord, NewAlert } from "./types.js";

const ALERT_COLS = "id, key, state, summary, details, first_at, last_at, count, resolved_at, acknowledged_by, acknowledged_at, data";

export interface AlertRow {
  state: string;
  summary: string;
  details: string | null;
  first_at: number;
  last_at: number;
  count: number | string;
  resolved_at: number | null;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  /** The parts that never change: id, key, kind, severity, agent, runId, tool. */
  data: string;
}

export interface MonitorRow {
  key: string;
  version: number | string;
  data: string;
  updated_at: number;
}

export function alertSql({ T, p }: Dialect) {
  const A = T("alerts");
  const M = T("monitors");
  return {
    // count = 1 after the statement only for a row it inserted: that is "fresh".
    raise: `INSERT INTO ${A} AS cur (id, key, state, summary, details, first_at, last_at, count, data)
      VALUES (${p(1)}, ${p(2)}, 'firing', ${p(3)}, ${p(4)}, ${p(5)}, ${p(5)}, 1, ${p(6)})
      ON CONFLICT (key) WHERE state <> 'resolved'
      DO UPDATE SET last_at = excluded.last_at, count = cur.count + 1, summary = excluded.summary,
        details = COALESCE(excluded.details, cur.details)
      RETURNING ${ALERT_COLS}`,
    resolve: `UPDATE ${A} SET state = 'resolved', resolved_at = ${p(2)} WHERE key = ${p(1)} AND state <> 'resolved' RETURNING ${ALERT_COLS}`,
    acknowledge: `UPDATE ${A} SET state = 'acknowledged', acknowledged_by = ${p(2)}, acknowledged_at = ${p(3)}
      WHERE id = ${p(1)} AND state = 'firing' RETURNING ${ALERT_COLS}`,
    get: `SELECT ${ALERT_COLS} FROM ${A} WHERE id = ${p(1)}`,
    list: `SELECT ${ALERT_COLS} FROM ${A} WHERE (CAST(${p(1)} AS TEXT) IS NULL OR state = ${p(1)}) ORDER BY seq DESC LIMIT ${p(2)}`,
    monitorGet: `SELECT key, version, data, updated_at FROM ${M} WHERE key = ${p(1)}`,
    monitorInsert: `INSERT INTO ${M} (key, version, data, updated_at) VALUES (${p(1)}, 1, ${p(2)}, ${p(3)}) ON CONFLICT (key) DO NOTHING`,
    monitorUpdate: `UPDATE ${M} SET version = version + 1, data = ${p(2)}, updated_at = ${p(3)} WHERE key = ${p(1)} AND version = ${p(4)}`,
    monitorList: `SELECT key, version, data, updated_at FROM ${M} ORDER BY key`,
  };
}

/** Parameters of `raise`, in the order of its placeholders. */
export function raiseParams(a: NewAlert): unknown[] {
  const fixed = { id: a.id, key: a.key, kind: a.kind, severity: a.severity, ...(a.agent !== undefined ? { agent: a.agent } : {}), ...(a.runId !== undefined ? { runId: a.runId } : {}), ...(a.tool !== undefined ? { tool: a.tool } : {}) };
  return [a.id, a.key, a.summary, a.details === undefined ? null : JSON.stringify(a.details), a.at, JSON.stringify(fixed)];
}

export function alertRecord(r: AlertRow): AlertRecord {
  const fixed = JSON.parse(r.data) as Pick<AlertRecord, "id" | "key" | "kind" | "severity" | "agent" | "runId" | "tool">;
  return {
    ...fixed,
    state: r.state as AlertRecord["state"],
    summary: r.summary,
    ...(r.details !== null ? { details: JSON.parse(r.details) } : {}),
    firstAt: Number(r.first_at),
    lastAt: Number(r.last_at),
    count: Number(r.count),
    ...(r.resolved_at !== null ? { resolvedAt: Number(r.resolved_at) } : {}),
    ...(r.acknowledged_by !== null ? { acknowledgedBy: r.acknowledged_by } : {}),
    ...(r.acknowledged_at !== null ? { acknowledgedAt: Number(r.acknowledged_at) } : {}),
  };
}

export function monitorRecord(r: MonitorRow): MonitorRecord {
  return { key: r.key, version: Number(r.version), data: JSON.parse(r.data), updatedAt: Number(r.updated_at) };
}
