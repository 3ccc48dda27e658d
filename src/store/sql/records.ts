/**
 * The SQL of the records other than idempotency (breakers, runs, mutations, approvals,
 * handoffs, freezes), one text for SQLite and PostgreSQL: both speak `INSERT … ON CONFLICT`,
 * `RETURNING` and `CAST(… AS TEXT)`, so each rule (an upsert replaces every column, a run
 * commits only over the version it read, an approval is decided only while pending, a
 * mutation moves only from the state named) is written once. What the dialects do not share
 * stays with each store: PostgreSQL's group-commit parts (postgres/db.ts) and its one-trip
 * stop request, which needs an UPDATE inside a WITH (SQLite runs `runStop` and `runExists`).
 *
 * `T(table)` names a table (PostgreSQL qualifies it with the schema); `p(i)` spells the i-th
 * parameter (SQLite `@p<i>`, PostgreSQL `$<i>`). Each statement's comment lists its parameters.
 */
import type { Dialect } from "./dialect.js";

const RUN_COLS = "stop_reason, stop_at, version, data, facts, history, handoff";
const APPROVAL_COLS = "status, decided_at, decided_by, decision_reason, data";

export function recordSql({ T, p }: Dialect) {
  const [B, R, M, A, H, F] = ["breakers", "runs", "mutations", "approvals", "handoffs", "freezes"].map(T);
  const ps = (n: number) => Array.from({ length: n }, (_, i) => p(i + 1)).join(", ");
  return {
    /** tool */
    breakerGet: `SELECT data FROM ${B} WHERE tool = ${p(1)}`,
    /** tool, data */
    breakerPut: `INSERT INTO ${B} (tool, data) VALUES (${ps(2)}) ON CONFLICT (tool) DO UPDATE SET data = excluded.data`,
    breakerList: `SELECT data FROM ${B} ORDER BY seq`,

    /** run id */
    runGet: `SELECT ${RUN_COLS} FROM ${R} WHERE run_id = ${p(1)}`,
    /** run id, status, started at, version, data, facts, history, handoff */
    runCreate: `INSERT INTO ${R} (run_id, status, started_at, version, data, facts, history, handoff) VALUES (${ps(8)})
      ON CONFLICT (run_id) DO NOTHING`,
    /** run id, the version read, the new version, status, data, facts, history, handoff (a large part null: left as stored) */
    runCommit: `UPDATE ${R} SET version = ${p(3)}, status = ${p(4)}, data = ${p(5)}, facts = COALESCE(${p(6)}, facts),
        history = COALESCE(${p(7)}, history), handoff = COALESCE(${p(8)}, handoff)
      WHERE run_id = ${p(1)} AND version = ${p(2)}`,
    /** run id, reason, at: the first stop request stands */
    runStop: `UPDATE ${R} SET stop_at = ${p(3)}, stop_reason = ${p(2)}, version = version + 1 WHERE run_id = ${p(1)} AND stop_reason IS NULL`,
    /** run id */
    runExists: `SELECT 1 FROM ${R} WHERE run_id = ${p(1)}`,
    /** run id */
    runStopGet: `SELECT stop_reason, stop_at FROM ${R} WHERE run_id = ${p(1)}`,
    /** status or null, limit (NO_LIMIT for none): newest first */
    runList: `SELECT ${RUN_COLS} FROM ${R} WHERE (CAST(${p(1)} AS TEXT) IS NULL OR status = ${p(1)})
      ORDER BY started_at DESC, seq ASC LIMIT ${p(2)}`,

    /** id, run id, run seq, status, error, data */
    mutationRecord: `INSERT INTO ${M} (id, run_id, run_seq, status, error, data) VALUES (${ps(6)})
      ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, run_seq = excluded.run_seq,
        status = excluded.status, error = excluded.error, data = excluded.data`,
    /** run id: in the run's order */
    mutationList: `SELECT status, error, data FROM ${M} WHERE run_id = ${p(1)} ORDER BY run_seq, seq`,
    /** id, from, to, error (null: the one stored stays) */
    mutationTransition: `UPDATE ${M} SET status = ${p(3)}, error = COALESCE(${p(4)}, error) WHERE id = ${p(1)} AND status = ${p(2)}`,

    /** id, run id, fingerprint, status, requested at, decided at, decided by, reason, data */
    approvalCreate: `INSERT INTO ${A} (id, run_id, fingerprint, status, requested_at, decided_at, decided_by, decision_reason, data)
      VALUES (${ps(9)})
      ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, fingerprint = excluded.fingerprint,
        status = excluded.status, requested_at = excluded.requested_at, decided_at = excluded.decided_at,
        decided_by = excluded.decided_by, decision_reason = excluded.decision_reason, data = excluded.data`,
    /** id */
    approvalGet: `SELECT ${APPROVAL_COLS} FROM ${A} WHERE id = ${p(1)}`,
    /** run id, fingerprint: the latest request */
    approvalFind: `SELECT ${APPROVAL_COLS} FROM ${A} WHERE run_id = ${p(1)} AND fingerprint = ${p(2)}
      ORDER BY requested_at DESC, seq DESC LIMIT 1`,
    /** status or null, run id or null: oldest first */
    approvalList: `SELECT ${APPROVAL_COLS} FROM ${A}
      WHERE (CAST(${p(1)} AS TEXT) IS NULL OR status = ${p(1)}) AND (CAST(${p(2)} AS TEXT) IS NULL OR run_id = ${p(2)})
      ORDER BY requested_at, seq`,
    /** id, status, by, at, reason (null: the one stored stays); no row when it is not pending */
    approvalDecide: `UPDATE ${A} SET status = ${p(2)}, decided_by = ${p(3)}, decided_at = ${p(4)},
        decision_reason = COALESCE(${p(5)}, decision_reason)
      WHERE id = ${p(1)} AND status = 'pending' RETURNING ${APPROVAL_COLS}`,

    /** id, run id, status, data */
    handoffCreate: `INSERT INTO ${H} (id, run_id, status, data) VALUES (${ps(4)})
      ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, status = excluded.status, data = excluded.data`,
    /** status or null, run id or null */
    handoffList: `SELECT data FROM ${H}
      WHERE (CAST(${p(1)} AS TEXT) IS NULL OR status = ${p(1)}) AND (CAST(${p(2)} AS TEXT) IS NULL OR run_id = ${p(2)}) ORDER BY seq`,

    /** id, at, data */
    freezePut: `INSERT INTO ${F} (id, at, data) VALUES (${ps(3)}) ON CONFLICT (id) DO UPDATE SET at = excluded.at, data = excluded.data`,
    /** id */
    freezeLift: `DELETE FROM ${F} WHERE id = ${p(1)}`,
    freezeLiftAll: `DELETE FROM ${F}`,
    freezeList: `SELECT data FROM ${F} ORDER BY at, seq`,
  };
}

export type RecordSql = ReturnType<typeof recordSql>;
