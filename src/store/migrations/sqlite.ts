/**
 * SQLite schema, as numbered migrations. `sqliteStore` applies the ones not yet recorded in
 * `schema_migrations`, in one IMMEDIATE transaction on open, so two processes opening the
 * same file at once apply each exactly once. Never edit a released migration: add one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
        owner TEXT NOT NULL,
        run_id TEXT NOT NULL,
        lease_until REAL NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        outcome TEXT,
        PRIMARY KEY (scope, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_expires ON idempotency (expires_at);

      CREATE TABLE breakers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tool TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL
      );

      CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        stop_reason TEXT,
        stop_at REAL,
        data TEXT NOT NULL
      );
      CREATE INDEX runs_started ON runs (started_at);

      CREATE TABLE mutations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        run_id TEXT NOT NULL,
        run_seq REAL NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX mutations_run ON mutations (run_id, run_seq);

      CREATE TABLE approvals (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        run_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL,
        requested_at REAL NOT NULL,
        decided_at REAL,
        decided_by TEXT,
        decision_reason TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX approvals_find ON approvals (run_id, fingerprint, requested_at);

      CREATE TABLE handoffs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        data TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "freezes",
    sql: `
      CREATE TABLE freezes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        at REAL NOT NULL,
        data TEXT NOT NULL
      );
    `,
  },
  {
    // Fewer pages written per write call (each page is a 4 KiB frame appended to the WAL).
    // idempotency: a rowid table with a unique index on the key, instead of a table
    // clustered on its random key: a completion rewrites its row on the table's few recent
    // pages, no longer a random leaf per key, and a claim's random insert goes into a
    // narrow index. mutations: no AUTOINCREMENT (its sqlite_sequence row was rewritten by
    // every ledger insert); rows are never deleted, so a new seq is still max + 1, in order.
    version: 3,
    name: "compact write path",
    sql: `
      CREATE TABLE idempotency_v3 (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
        owner TEXT NOT NULL,
        run_id TEXT NOT NULL,
        lease_until REAL NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        outcome TEXT
      );
      INSERT INTO idempotency_v3 (scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome)
        SELECT scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome
        FROM idempotency ORDER BY created_at;
      DROP TABLE idempotency;
      ALTER TABLE idempotency_v3 RENAME TO idempotency;
      CREATE UNIQUE INDEX idempotency_key ON idempotency (scope, key);
      CREATE INDEX idempotency_expires ON idempotency (expires_at);

      CREATE TABLE mutations_v3 (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        run_id TEXT NOT NULL,
        run_seq REAL NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        data TEXT NOT NULL
      );
      INSERT INTO mutations_v3 (seq, id, run_id, run_seq, status, error, data)
        SELECT seq, id, run_id, run_seq, status, error, data FROM mutations;
      DROP TABLE mutations;
      ALTER TABLE mutations_v3 RENAME TO mutations;
      CREATE INDEX mutations_run ON mutations (run_id, run_seq);
    `,
  },
  {
    // Exactly once across pauses and partial failures: a claim its owner could not settle
    // stays as 'unsettled' (never swept, never taken over by a lapse); `generation` counts
    // the times a recorded effect was found gone and the call ran anew. The table is rebuilt
    // because SQLite cannot change a CHECK constraint; rowids (the claim order) are kept.
    version: 4,
    name: "unsettled claims and generations",
    sql: `
      CREATE TABLE idempotency_v4 (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('in_flight', 'completed', 'unsettled')),
        generation INTEGER NOT NULL DEFAULT 0,
        owner TEXT NOT NULL,
        run_id TEXT NOT NULL,
        lease_until REAL NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        outcome TEXT
      );
      INSERT INTO idempotency_v4 (id, scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome)
        SELECT id, scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome FROM idempotency;
      DROP TABLE idempotency;
      ALTER TABLE idempotency_v4 RENAME TO idempotency;
      CREATE UNIQUE INDEX idempotency_key ON idempotency (scope, key);
      CREATE INDEX idempotency_expires ON idempotency (expires_at);
    `,
  },
  {
    // Alerts: at most one open (not resolved) alert per key, enforced by a partial unique
    // index that raise's upsert targets. Monitors: one JSON document per monitor, written
    // by compare-and-set on its version.
    version: 5,
    name: "alerts and monitors",
    sql: `
      CREATE TABLE alerts (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
        summary TEXT NOT NULL,
        details TEXT,
        first_at REAL NOT NULL,
        last_at REAL NOT NULL,
        count INTEGER NOT NULL,
        resolved_at REAL,
        acknowledged_by TEXT,
        acknowledged_at REAL,
        data TEXT NOT NULL
      );
      CREATE UNIQUE INDEX alerts_open_key ON alerts (key) WHERE state <> 'resolved';
      CREATE INDEX alerts_state ON alerts (state, seq);

      CREATE TABLE monitors (
        key TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL
      );
    `,
  },
  {
    // Shadow mode's decisions (see shadow.ts): appended, listed newest first, by time.
    version: 6,
    name: "shadow decisions",
    sql: `
      CREATE TABLE shadow_decisions (
        seq INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        run_id TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX shadow_decisions_at ON shadow_decisions (at);
    `,
  },
  {
    // Runs keep their guards (steps, budgets, failures in a row, confidence, facts, the
    // handoff) so that a run resumes in any process. `version` is what a commit compares
    // (see RunStore); the large parts have columns of their own so that a commit rewrites
    // them only when they change.
    version: 7,
    name: "durable runs",
    sql: `
      ALTER TABLE runs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN facts TEXT;
      ALTER TABLE runs ADD COLUMN history TEXT;
      ALTER TABLE runs ADD COLUMN handoff TEXT;
    `,
  },
  {
    // A run's claims that are not completed (in flight, unsettled), for rollback: a partial
    // index, as small as the calls in flight.
    version: 8,
    name: "unfinished claims by run",
    sql: `
      CREATE INDEX idempotency_unfinished ON idempotency (run_id) WHERE state <> 'completed';
    `,
  },
  {
    // The call journal (see CallJournalStore and call-journal.ts): a row per commit of a
    // run that carried calls, their entries as a JSON array with the times of the first
    // and last; read by run in order, and by time across runs (charts, the retention sweep).
    version: 9,
    name: "call journal",
    sql: `
      CREATE TABLE call_journal (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        first_at REAL NOT NULL,
        last_at REAL NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX call_journal_run ON call_journal (run_id, seq);
      CREATE INDEX call_journal_last ON call_journal (last_at);
    `,
  },
];
