/**
 * PostgreSQL schema, as numbered migrations. `postgresStore` applies the ones not yet
 * recorded in `<schema>.schema_migrations`, in one transaction on open, under an advisory
 * lock, so two processes opening at once apply each exactly once. Never edit a released
 * migration: add one. `S` is the quoted schema name.
 */
export interface PgMigration {
  version: number;
  name: string;
  sql: (S: string) => string;
}

// Times are epoch milliseconds in double precision: exact for integers up to 2^53 and
// returned by `pg` as numbers. JSON is kept as text, so that values round-trip exactly
// (jsonb would reorder keys and normalise numbers).
export const postgresMigrations: readonly PgMigration[] = [
  {
    version: 1,
    name: "initial",
    sql: (S) => `
      CREATE TABLE ${S}.idempotency (
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
        owner text NOT NULL,
        run_id text NOT NULL,
        lease_until double precision NOT NULL,
        created_at double precision NOT NULL,
        expires_at double precision NOT NULL,
        outcome text,
        -- Someone was told "in_flight" and may wait: completing or releasing must NOTIFY.
        -- (NOTIFY serialises committing transactions on a global lock; uncontended keys skip it.)
        watched boolean NOT NULL DEFAULT false,
        PRIMARY KEY (scope, key)
      );
      CREATE INDEX idempotency_expires ON ${S}.idempotency (expires_at);

      CREATE TABLE ${S}.breakers (
        seq bigserial PRIMARY KEY,
        tool text NOT NULL UNIQUE,
        data text NOT NULL
      );

      CREATE TABLE ${S}.runs (
        seq bigserial PRIMARY KEY,
        run_id text NOT NULL UNIQUE,
        status text NOT NULL,
        started_at double precision NOT NULL,
        stop_reason text,
        stop_at double precision,
        data text NOT NULL
      );
      CREATE INDEX runs_started ON ${S}.runs (started_at);

      CREATE TABLE ${S}.mutations (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        run_id text NOT NULL,
        run_seq double precision NOT NULL,
        status text NOT NULL,
        error text,
        data text NOT NULL
      );
      CREATE INDEX mutations_run ON ${S}.mutations (run_id, run_seq);

      CREATE TABLE ${S}.approvals (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        run_id text NOT NULL,
        fingerprint text NOT NULL,
        status text NOT NULL,
        requested_at double precision NOT NULL,
        decided_at double precision,
        decided_by text,
        decision_reason text,
        data text NOT NULL
      );
      CREATE INDEX approvals_find ON ${S}.approvals (run_id, fingerprint, requested_at);

      CREATE TABLE ${S}.handoffs (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        run_id text NOT NULL,
        status text NOT NULL,
        data text NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "freezes",
    sql: (S) => `
      CREATE TABLE ${S}.freezes (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        at double precision NOT NULL,
        data text NOT NULL
      );
    `,
  },
  {
    // Exactly once across pauses and partial failures: a claim its owner could not settle
    // stays as 'unsettled' (never swept, never taken over by a lapse); `generation` counts
    // the times a recorded effect was found gone and the call ran anew; `seq` is the order
    // of claims, by which a run's latest call of a tool is found (through idempotency_run).
    version: 3,
    name: "unsettled claims and generations",
    sql: (S) => `
      ALTER TABLE ${S}.idempotency DROP CONSTRAINT idempotency_state_check;
      ALTER TABLE ${S}.idempotency ADD CONSTRAINT idempotency_state_check CHECK (state IN ('in_flight', 'completed', 'unsettled'));
      ALTER TABLE ${S}.idempotency ADD COLUMN generation integer NOT NULL DEFAULT 0;
      ALTER TABLE ${S}.idempotency ADD COLUMN seq bigserial;
      CREATE INDEX idempotency_run ON ${S}.idempotency (run_id, scope);
    `,
  },
  {
    // See the SQLite migration "alerts and monitors".
    version: 4,
    name: "alerts and monitors",
    sql: (S) => `
      CREATE TABLE ${S}.alerts (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        key text NOT NULL,
        state text NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
        summary text NOT NULL,
        details text,
        first_at double precision NOT NULL,
        last_at double precision NOT NULL,
        count integer NOT NULL,
        resolved_at double precision,
        acknowledged_by text,
        acknowledged_at double precision,
        data text NOT NULL
      );
      CREATE UNIQUE INDEX alerts_open_key ON ${S}.alerts (key) WHERE state <> 'resolved';
      CREATE INDEX alerts_state ON ${S}.alerts (state, seq);

      CREATE TABLE ${S}.monitors (
        key text PRIMARY KEY,
        version integer NOT NULL,
        data text NOT NULL,
        updated_at double precision NOT NULL
      );
    `,
  },
  {
    // Shadow mode's decisions (see shadow.ts): appended, listed newest first, by time.
    version: 5,
    name: "shadow decisions",
    sql: (S) => `
      CREATE TABLE ${S}.shadow_decisions (
        seq bigserial PRIMARY KEY,
        at double precision NOT NULL,
        run_id text NOT NULL,
        data text NOT NULL
      );
      CREATE INDEX shadow_decisions_at ON ${S}.shadow_decisions (at);
    `,
  },
  {
    // See the SQLite migration of the same name.
    version: 6,
    name: "durable runs",
    sql: (S) => `
      ALTER TABLE ${S}.runs ADD COLUMN version bigint NOT NULL DEFAULT 0;
      ALTER TABLE ${S}.runs ADD COLUMN facts text;
      ALTER TABLE ${S}.runs ADD COLUMN history text;
      ALTER TABLE ${S}.runs ADD COLUMN handoff text;
    `,
  },
  {
    // Leases are judged by the database's clock (see postgres.ts, "Leases"): lease_until is
    // the database's time from now on, and lease_ms, the claim's lease, is what a renewal
    // extends it by. A claim in flight across the upgrade gets the lease it was granted
    // (its lease_until was the caller's clock, close enough to the database's to lapse).
    version: 7,
    name: "leases on the database clock",
    sql: (S) => `
      ALTER TABLE ${S}.idempotency ADD COLUMN lease_ms double precision NOT NULL DEFAULT 0;
      UPDATE ${S}.idempotency SET lease_ms = GREATEST(lease_until - created_at, 0) WHERE state = 'in_flight';
    `,
  },
  {
    // See the SQLite migration of the same name.
    version: 8,
    name: "call journal",
    sql: (S) => `
      CREATE TABLE ${S}.call_journal (
        seq bigserial PRIMARY KEY,
        run_id text NOT NULL,
        first_at double precision NOT NULL,
        last_at double precision NOT NULL,
        data text NOT NULL
      );
      CREATE INDEX call_journal_run ON ${S}.call_journal (run_id, seq);
      CREATE INDEX call_journal_last ON ${S}.call_journal (last_at);
    `,
  },
];
