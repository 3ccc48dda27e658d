/**
 * The PostgreSQL store: for several processes or machines sharing idempotency records,
 * breakers, runs and approvals. A pool of connections, one schema (default "bulwark"),
 * claims by `INSERT … ON CONFLICT`, waiters woken by LISTEN/NOTIFY. Any database failure
 * is thrown as `StoreUnavailableError`; the pool reconnects by itself when the database is back.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { requirePeer } from "../optional.js";
import {
  approvalRecord,
  breakerRecord,
  freezeRecord,
  handoffRecord,
  idempotencyRecord,
  mutationRecord,
  nothingToWaitFor,
  runData,
  runParts,
  runRecord,
  snapshotOf,
  storeClosed,
  toJson,
  unavailable,
  Waiters,
  type ApprovalRow,
  type IdempotencyRow,
  type MutationRow,
  type RunRow,
} from "./durable.js";
import { postgresMigrations } from "./migrations/postgres.js";
import { GroupCommit, type Op, type Part, type Trailer } from "./pg-group-commit.js";
import { PgAlerts, PgMonitors } from "./postgres-alerts.js";
import { PgShadowDecisions } from "./shadow-decisions.js";
import {
  type AlertStore,
  type MonitorStore,
  StoreUnavailableError,
  type ApprovalRecord,
  type ApprovalStore,
  type BreakerRecord,
  type BreakerStore,
  type ClaimRequest,
  type ClaimResult,
  type CommitResult,
  type FreezeRecord,
  type FreezeStore,
  type HandoffRecord,
  type HandoffStore,
  type IdempotencyStore,
  type MutationRecord,
  type MutationStore,
  type RunRecord,
  type RunStore,
  type ShadowDecisionStore,
  type Store,
  type StoredOutcome,
} from "./types.js";

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host[:port]/db[?schema=name&…]`. */
  url: string;
  /** The schema holding Bulwark's tables; created if missing. Overrides `?schema=` ["bulwark"]. */
  schema?: string;
  /** Connections in the pool [10]. */
  max?: number;
  /** How long to wait for a connection before failing [5000]. */
  connectTimeoutMs?: number;
  /**
   * How long one query may take before failing [15000]. PostgreSQL itself cancels a
   * statement a little sooner (its `statement_timeout`), so that one the client gave up on
   * is never applied afterwards.
   */
  queryTimeoutMs?: number;
  /**
   * Send the claims, completions, releases, ledger entries and pre-write reads issued in
   * one event-loop turn as one statement (see pg-group-commit.ts) [true].
   */
  groupCommit?: boolean;
}

/** `pg` is an optional peer, loaded when a PostgreSQL store is first opened. */
const driver = () => requirePeer<typeof pg>("pg", "The PostgreSQL store", "pg@8");

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,49}$/;

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
  }
}

interface Resolved {
  url: string;
  shown: string;
  schema: string;
  config: pg.PoolConfig;
  groupCommit: boolean;
}

function resolve(opts: PostgresStoreOptions | string): Resolved {
  const o: PostgresStoreOptions = typeof opts === "string" ? { url: opts } : opts;
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new Error(`not a PostgreSQL URL: ${redactUrl(o.url)} (expected postgres://user@host:5432/db)`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new Error(`not a PostgreSQL URL: ${redactUrl(o.url)} (expected postgres://user@host:5432/db)`);
  }
  const schema = o.schema ?? u.searchParams.get("schema") ?? "bulwark";
  u.searchParams.delete("schema");
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: letters, digits and _ only, at most 50`);
  }
  const url = u.toString();
  const queryTimeout = o.queryTimeoutMs ?? 15_000;
  const config: pg.PoolConfig = {
    connectionString: url,
    max: o.max ?? 10,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5_000,
    query_timeout: queryTimeout,
    // The client's timeout alone leaves the statement running in PostgreSQL: a claim that
    // waited on a lock would be applied after the call had failed as store_unavailable and
    // never run, and its key would then be held by nobody who can settle it (the repeat
    // reads write_unverified for ever). The server's own timeout, a little shorter, aborts
    // the statement there: the client's error then means "not applied", whatever becomes of
    // the client. Not chosen: the claimant releasing, after the error, the claim it may have
    // made. That needs the process to live on, may run before the late INSERT and find
    // nothing, and is unsafe: the claim may have taken over a lapsed one (same owner then),
    // whose dead owner's effect may stand, and a release would let a repeat run it twice.
    // (A statement that reaches the server later than the margin after it was sent, or a
    // commit whose answer is lost, stays unknown: a claim left so lapses, as a dead owner's.)
    statement_timeout: Math.max(1, queryTimeout - Math.min(1_000, Math.floor(queryTimeout / 4))),
    idleTimeoutMillis: 30_000,
  };
  if (!u.searchParams.has("application_name")) config.application_name = `bulwark:${schema}`;
  return { url, shown: redactUrl(url), schema, config, groupCommit: o.groupCommit ?? true };
}

async function migrate(client: pg.PoolClient, schema: string) {
  const S = `"${schema}"`;
  await client.query("BEGIN");
  try {
    // Two processes opening at once: the second waits here, then finds everything applied.
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`bulwark:migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${S}.schema_migrations`);
    const applied = new Set(rows.map((r) => r.version));
    for (const m of postgresMigrations) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql(S));
      await client.query(`INSERT INTO ${S}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

/**
 * Connect, bring the schema up to date and return the store. An unreachable database is
 * an error here, within the connect timeout, never at the first call.
 */
export async function postgresStore(opts: PostgresStoreOptions | string): Promise<Store> {
  const r = resolve(opts);
  const pool = new (driver().Pool)(r.config);
  // Idle connections die when the server restarts: the pool drops them and reconnects.
  pool.on("error", () => {});
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    await pool.end().catch(() => {});
    throw unavailable(`cannot reach PostgreSQL at ${r.shown}`, e);
  }
  try {
    await migrate(client, r.schema);
    client.release();
  } catch (e) {
    client.release(true);
    await pool.end().catch(() => {});
    throw unavailable(`cannot prepare PostgreSQL schema "${r.schema}" at ${r.shown}`, e);
  }
  return new PgStore(pool, r);
}

/**
 * The pool, its error mapping and its group commit (see pg-group-commit.ts): runs queries on
 * the pool; every failure becomes a StoreUnavailableError.
 */
class Db {
  closed = false;
  /** The statement that carries the hot operations of one event-loop turn; absent when off. */
  readonly group: GroupCommit | undefined;
  /** The channel that completions and releases of watched records are notified on. */
  readonly channel: string;
  constructor(
    readonly pool: pg.Pool,
    readonly r: Resolved,
  ) {
    const S = `"${r.schema}"`;
    this.channel = `bulwark_${r.schema}`;
    this.group = r.groupCommit
      ? new GroupCommit(pool, S, r.schema, parts, trailers, this.channel, Math.max(1, (r.config.max ?? 10) - 1), (e) => this.error(e), () => this.closed)
      : undefined;
  }

  error(e: unknown): StoreUnavailableError {
    return unavailable(`PostgreSQL at ${this.r.shown}`, e);
  }

  /** `op` in the next group statement, or alone when group commit is off. */
  batched<T>(op: Op<T>): Promise<T> {
    return this.group ? this.group.run(op) : op.alone();
  }

  async query<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.closed) throw storeClosed("PostgreSQL");
    try {
      // Named: each connection prepares the statement once.
      return await this.pool.query<R>({ name: `${this.r.schema}_${name}`, text, values });
    } catch (e) {
      throw this.error(e);
    }
  }
}

// ---------------------------------------------------------------- leases
// Leases are judged by one clock, the database's: a claim's lease_until is the database's
// time (clock_timestamp(), read as each statement decides) plus the claim's lease, a
// renewal extends it from the database's time by the lease stored with the claim
// (lease_ms), and a takeover compares it with the database's time. The caller's `now` and
// the `leaseUntil` it asks a renewal for play no part, so processes whose clocks differ
// (skewed either way, or stepped) agree on when a lease lapses, and a process paused past
// its lease loses it as any other would see it. A claim answers `leaseUntil` on the
// caller's clock (its `now` plus the time left), so that a waiter waits as long as the
// lease has left; `get` and `unfinished`, asked without a `now`, give the database's time.
// Not chosen: measuring each process's offset from the database once, and converting; a
// clock stepped afterwards (NTP, a VM resumed) breaks it, and an offset is only as good as
// the round trip it was measured over. What remains is the database's own clock: a step
// of it moves every lease at once (a forward step lapses them early, as if every owner
// had paused: fencing tokens and the lost renewal catch that as they catch a pause).
// Retention (expires_at, sweep) stays on the caller's clock: it is hours, not seconds.

/** The database's time, epoch milliseconds: the only clock a lease is judged by. */
const DB_NOW = "(extract(epoch FROM clock_timestamp()) * 1000)::float8";

// ---------------------------------------------------------------- group-commit parts
// Each part is one kind of operation as a set-based statement over arrays (see
// pg-group-commit.ts); every answer row is (k: the part, i: the item, a, b, c).

const claimPart: Part = {
  tag: "c",
  types: ["text[]", "text[]", "text[]", "text[]", "text[]", "float8[]", "float8[]", "float8[]"],
  sql: (S, p) => ({
    ctes: [
      `cu AS (SELECT * FROM unnest(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}) WITH ORDINALITY
              AS u(scope, key, fingerprint, owner, run_id, lease_ms, created_at, expires_at, i))`,
      `c AS (INSERT INTO ${S}.idempotency (scope, key, fingerprint, owner, run_id, lease_until, lease_ms, created_at, expires_at, state)
             SELECT scope, key, fingerprint, owner, run_id, ${DB_NOW} + lease_ms, lease_ms, created_at, expires_at, 'in_flight' FROM cu
             ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key, seq)`,
    ],
    select: `SELECT 'c', cu.i, c.seq::text, NULL, NULL FROM cu JOIN c USING (scope, key)`,
  }),
};

const completePart: Part = {
  tag: "d",
  types: ["text[]", "text[]", "text[]", "text[]", "float8[]", "text[]", "text[]"],
  sql: (S, p) => ({
    ctes: [
      `d AS (UPDATE ${S}.idempotency t SET state = u.state, outcome = u.outcome, expires_at = GREATEST(t.expires_at, u.now)
               FROM unnest(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}) WITH ORDINALITY AS u(scope, key, owner, outcome, now, h, state, i)
              WHERE t.scope = u.scope AND t.key = u.key AND t.owner = u.owner AND t.state = 'in_flight'
             RETURNING u.i, u.h, t.watched)`,
    ],
    select: `SELECT 'd', i, NULL, NULL, NULL FROM d`,
  }),
};

const releasePart: Part = {
  tag: "g",
  types: ["text[]", "text[]", "text[]", "text[]"],
  sql: (S, p) => ({
    ctes: [
      `g AS (DELETE FROM ${S}.idempotency t USING unnest(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}) AS u(scope, key, owner, h)
              WHERE t.scope = u.scope AND t.key = u.key AND t.owner = u.owner AND t.state = 'in_flight'
             RETURNING u.h, t.watched)`,
    ],
  }),
};

const mutationPart: Part = {
  tag: "m",
  types: ["text[]", "text[]", "float8[]", "text[]", "text[]", "text[]"],
  sql: (S, p) => ({
    ctes: [
      `m AS (INSERT INTO ${S}.mutations (id, run_id, run_seq, status, error, data)
             SELECT * FROM unnest(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})
             ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, run_seq = EXCLUDED.run_seq,
               status = EXCLUDED.status, error = EXCLUDED.error, data = EXCLUDED.data)`,
    ],
  }),
};

/** A run's compare-and-set (see RunStore.commit): the item's row comes back when it was written. */
const runCommitPart: Part = {
  tag: "w",
  types: ["text[]", "float8[]", "float8[]", "text[]", "text[]", "text[]", "text[]", "text[]"],
  sql: (S, p) => ({
    ctes: [
      `w AS (UPDATE ${S}.runs t SET version = x.version, status = x.status, data = x.data, facts = COALESCE(x.facts, t.facts),
               history = COALESCE(x.history, t.history), handoff = COALESCE(x.handoff, t.handoff)
               FROM unnest(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}) WITH ORDINALITY
                 AS x(run_id, prev, version, status, data, facts, history, handoff, i)
              WHERE t.run_id = x.run_id AND t.version = x.prev
             RETURNING x.i)`,
    ],
    select: `SELECT 'w', i, NULL, NULL, NULL FROM w`,
  }),
};

/** Every item of this part shares the answer (item 0): the declared freezes, in order. */
const freezeListPart: Part = {
  tag: "f",
  types: [],
  sql: (S) => ({
    select: `SELECT 'f', 0, NULL, lpad((row_number() OVER (ORDER BY at, seq))::text, 12, '0'), data FROM ${S}.freezes`,
  }),
};

/** Waiters elsewhere (a watched record) are told of completions and releases, as alone. */
const notifyTrailer: Trailer = {
  tag: "n",
  after: ["d", "g"],
  sql: (_S, ch, present) => ({
    cte: `SELECT pg_notify(${ch}, x.h) FROM (${present
      .filter((t) => t === "d" || t === "g")
      .map((t) => `SELECT h FROM ${t} WHERE watched`)
      .join(" UNION ALL ")}) x`,
    select: `SELECT 'n', count(*), NULL, NULL, NULL FROM n`,
  }),
};

/** At most one operation per idempotency key in a group statement. */
const lockOf = (scope: string, key: string) => `i\u0000${Waiters.id(scope, key)}`;

const parts: readonly Part[] = [runCommitPart, freezeListPart, claimPart, completePart, releasePart, mutationPart];
const trailers: readonly Trailer[] = [notifyTrailer];

class PgStore implements Store {
  readonly kind = "postgres";
  readonly idempotency: PgIdempotency;
  readonly breakers: BreakerStore;
  readonly runs: RunStore;
  readonly mutations: MutationStore;
  readonly approvals: ApprovalStore;
  readonly handoffs: HandoffStore;
  readonly freezes: FreezeStore;
  readonly alerts: AlertStore;
  readonly monitors: MonitorStore;
  readonly shadow: ShadowDecisionStore;
  private readonly db: Db;

  constructor(pool: pg.Pool, r: Resolved) {
    this.db = new Db(pool, r);
    const S = `"${r.schema}"`;
    this.idempotency = new PgIdempotency(this.db, S);
    this.breakers = new PgBreakers(this.db, S);
    this.runs = new PgRuns(this.db, S);
    this.mutations = new PgMutations(this.db, S);
    this.approvals = new PgApprovals(this.db, S);
    this.handoffs = new PgHandoffs(this.db, S);
    this.freezes = new PgFreezes(this.db, S);
    this.alerts = new PgAlerts(this.db, S);
    this.monitors = new PgMonitors(this.db, S);
    this.shadow = new PgShadowDecisions(this.db, S);
  }

  async close() {
    if (this.db.closed) return;
    this.db.closed = true;
    await this.idempotency.stop();
    await this.db.pool.end();
  }
}

class PgIdempotency implements IdempotencyStore {
  private readonly waiters = new Waiters();
  private readonly channel: string;
  private listener: Promise<pg.Client> | undefined;

  constructor(
    private readonly db: Db,
    private readonly S: string,
  ) {
    this.channel = db.channel;
  }

  /** Waiters and notifications are keyed by a fixed-size hash of scope and key. */
  private hash(scope: string, key: string) {
    return createHash("md5").update(Waiters.id(scope, key)).digest("hex");
  }

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const S = this.S;
    // The lease is granted by the database's clock (see "Leases"): its length goes, not an end.
    const fresh = [req.scope, req.key, req.fingerprint, req.owner, req.runId, req.leaseMs, req.now, req.now + req.retentionMs];
    // The claim's `seq` is its fence: taken from a sequence, it only grows.
    const insert = async () => {
      const { rows } = await this.db.query<{ seq: string }>(
        "claim_insert",
        `INSERT INTO ${S}.idempotency (scope, key, fingerprint, owner, run_id, lease_until, lease_ms, created_at, expires_at, state)
         VALUES ($1, $2, $3, $4, $5, ${DB_NOW} + $6::float8, $6, $7, $8, 'in_flight') ON CONFLICT (scope, key) DO NOTHING RETURNING seq`,
        fresh,
      );
      return rows[0] ? Number(rows[0].seq) : undefined;
    };
    // A fresh key: one statement (shared with the other claims of this turn). A key that
    // exists: one more, which locks the row, takes it over if its completed record expired
    // or its lease lapsed, and returns what it was. If the row vanished in between
    // (released, swept), start again.
    for (let attempt = 0; attempt < 8; attempt++) {
      const inserted =
        attempt === 0
          ? await this.db.batched<number | undefined>({
              part: claimPart,
              lock: lockOf(req.scope, req.key),
              row: fresh,
              answer: (rows) => (rows[0] ? Number(rows[0].a) : undefined),
              alone: insert,
            })
          : await insert();
      if (inserted !== undefined) return { status: "claimed", fence: inserted };
      // Taken over: a completed record that expired (the next generation), a lapsed lease
      // (the same one: its owner may have run it), or the record `replace` names. Whether
      // the lease lapsed is decided after the row is locked, by the database's clock.
      const { rows } = await this.db.query<IdempotencyRow & { fence: string | null; lease_left: number }>(
        "claim_takeover",
        `WITH old AS (
           SELECT * FROM ${S}.idempotency WHERE scope = $1 AND key = $2 FOR UPDATE
         ), taken AS (
           UPDATE ${S}.idempotency t
              SET fingerprint = $3, state = 'in_flight', owner = $4, run_id = $5,
                  lease_until = ${DB_NOW} + $6::float8, lease_ms = $6, created_at = $7, expires_at = $8, outcome = NULL, seq = DEFAULT,
                  generation = CASE WHEN old.state = 'in_flight' THEN old.generation
                                    WHEN old.owner = $9 AND old.fingerprint = $3 THEN $10
                                    ELSE 0 END
             FROM old
            WHERE t.scope = old.scope AND t.key = old.key
              AND ((old.state = 'completed' AND old.expires_at <= $7)
                OR (old.state = 'in_flight' AND old.fingerprint = $3 AND old.lease_until <= ${DB_NOW})
                OR (old.state <> 'in_flight' AND old.fingerprint = $3 AND old.owner = $9))
           RETURNING t.seq
         )
         SELECT old.*, (SELECT seq FROM taken) AS fence, old.lease_until - ${DB_NOW} AS lease_left FROM old`,
        [...fresh, req.replace?.owner ?? null, req.replace?.generation ?? 0],
      );
      const row = rows[0];
      if (!row) continue;
      // On the caller's clock: its now plus the time the lease has left (negative once it lapsed).
      const record = { ...idempotencyRecord(row), leaseUntil: req.now + Number(row.lease_left) };
      if (row.fence !== null) {
        const fence = Number(row.fence);
        return row.state === "in_flight" ? { status: "lease_expired", record, fence } : { status: "claimed", fence };
      }
      if (row.fingerprint !== req.fingerprint) return { status: "conflict", record };
      if (row.state === "completed") return { status: "completed", record };
      if (row.state === "unsettled") return { status: "unsettled", record };
      this.waiters.saw(this.hash(req.scope, req.key), snapshotOf(record));
      return { status: "in_flight", record };
    }
    throw new StoreUnavailableError(`PostgreSQL at ${this.db.r.shown}: claim of ${req.scope}/${req.key} kept racing`);
  }

  async complete(scope: string, key: string, owner: string, outcome: StoredOutcome, now: number, as: "completed" | "unsettled" = "completed") {
    const h = this.hash(scope, key);
    const json = toJson(outcome);
    const done = await this.db.batched<boolean>({
      part: completePart,
      lock: lockOf(scope, key),
      row: [scope, key, owner, json, now, h, as],
      answer: (rows) => rows.length === 1,
      alone: async () => {
        const { rowCount } = await this.db.query(
          "complete",
          `WITH done AS (
             UPDATE ${this.S}.idempotency SET state = $8, outcome = $4, expires_at = GREATEST(expires_at, $5)
              WHERE scope = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'
             RETURNING watched
           )
           SELECT CASE WHEN done.watched THEN pg_notify($6, $7) END FROM done`,
          [scope, key, owner, json, now, this.channel, h, as],
        );
        return rowCount === 1;
      },
    });
    if (done) this.waiters.wake(h);
    return done;
  }

  /** By the database's clock and the claim's own lease: the caller's `leaseUntil` is not used (see "Leases"). */
  async renew(scope: string, key: string, owner: string, _leaseUntil: number) {
    const { rowCount } = await this.db.query(
      "renew",
      `UPDATE ${this.S}.idempotency SET lease_until = GREATEST(lease_until, ${DB_NOW} + lease_ms)
        WHERE scope = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'`,
      [scope, key, owner],
    );
    return rowCount === 1;
  }

  async release(scope: string, key: string, owner: string) {
    const h = this.hash(scope, key);
    await this.db.batched<void>({
      part: releasePart,
      lock: lockOf(scope, key),
      row: [scope, key, owner, h],
      answer: () => undefined,
      alone: async () => {
        await this.db.query(
          "release",
          `WITH gone AS (
             DELETE FROM ${this.S}.idempotency WHERE scope = $1 AND key = $2 AND owner = $3 AND state = 'in_flight'
             RETURNING watched
           )
           SELECT pg_notify($4, $5) FROM gone WHERE gone.watched`,
          [scope, key, owner, this.channel, h],
        );
      },
    });
    this.waiters.wake(h);
  }

  async get(scope: string, key: string) {
    const { rows } = await this.db.query<IdempotencyRow>(
      "get",
      `SELECT * FROM ${this.S}.idempotency WHERE scope = $1 AND key = $2`,
      [scope, key],
    );
    return rows[0] && idempotencyRecord(rows[0]);
  }

  async waitForChange(scope: string, key: string, timeoutMs: number): Promise<void> {
    const h = this.hash(scope, key);
    const seen = this.waiters.takeSeen(h);
    await this.listen();
    // Listening, then registered, then mark the record as waited for (so that its
    // completion or release NOTIFYs), then look: a change is either notified or seen now.
    const { promise, wake } = this.waiters.wait(h, timeoutMs);
    try {
      await this.db.query(
        "watch",
        `UPDATE ${this.S}.idempotency SET watched = true
          WHERE scope = $1 AND key = $2 AND state = 'in_flight' AND NOT watched`,
        [scope, key],
      );
      const rec = await this.get(scope, key);
      if (nothingToWaitFor(rec) || (seen !== undefined && seen !== snapshotOf(rec))) wake();
    } catch (e) {
      wake();
      throw e;
    }
    await promise;
  }

  async latestInRun(scope: string, runId: string, keyPrefix: string) {
    const { rows } = await this.db.query<{ key: string }>(
      "latest_in_run",
      `SELECT key FROM ${this.S}.idempotency
        WHERE run_id = $1 AND scope = $2 AND starts_with(key, $3) AND state <> 'in_flight'
        ORDER BY seq DESC LIMIT 1`,
      [runId, scope, keyPrefix],
    );
    return rows[0]?.key;
  }

  async unfinished(runId: string) {
    const { rows } = await this.db.query<IdempotencyRow>(
      "unfinished",
      `SELECT * FROM ${this.S}.idempotency WHERE run_id = $1 AND state <> 'completed' ORDER BY seq`,
      [runId],
    );
    return rows.map(idempotencyRecord);
  }

  async sweep(now: number) {
    const { rowCount } = await this.db.query(
      "sweep",
      `DELETE FROM ${this.S}.idempotency WHERE expires_at <= $1 AND state = 'completed'`,
      [now],
    );
    return rowCount ?? 0;
  }

  /** One connection per store LISTENs for the store's channel; re-made after a failure. */
  private listen(): Promise<pg.Client> {
    if (this.db.closed) return Promise.reject(storeClosed("PostgreSQL"));
    if (this.listener) return this.listener;
    let made: Promise<pg.Client> | undefined;
    made = (async () => {
      const { connectionString, connectionTimeoutMillis, application_name } = this.db.r.config;
      const client = new (driver().Client)({ connectionString, connectionTimeoutMillis, application_name });
      const lost = () => {
        if (this.listener === made) this.listener = undefined;
        this.waiters.wakeAll(); // spurious wake-ups are fine: waiters re-claim
      };
      client.on("error", lost);
      client.on("end", lost);
      client.on("notification", (n) => {
        if (n.channel === this.channel && n.payload) this.waiters.wake(n.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
      } catch (e) {
        client.removeAllListeners("end");
        await client.end().catch(() => {});
        if (this.listener === made) this.listener = undefined;
        throw unavailable(`PostgreSQL at ${this.db.r.shown}: cannot listen`, e);
      }
      return client;
    })();
    this.listener = made;
    return made;
  }

  async stop() {
    const l = this.listener;
    this.listener = undefined;
    this.waiters.wakeAll();
    if (l) {
      const client = await l.catch(() => undefined);
      client?.removeAllListeners("end");
      await client?.end().catch(() => {});
    }
  }
}

class PgBreakers implements BreakerStore {
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

class PgRuns implements RunStore {
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
  async commit(prev: RunRecord, next: RunRecord): Promise<CommitResult> {
    const p = runParts(prev, next);
    const row = [prev.runId, prev.version, next.version, next.status, runData(next), p.facts, p.history, p.handoff];
    const committed = await this.db.batched<boolean>({
      part: runCommitPart,
      lock: `r\u0000${prev.runId}`,
      row,
      answer: (rows) => rows.length === 1,
      alone: async () =>
        (
          await this.db.query(
            "run_commit",
            `UPDATE ${this.S}.runs SET version = $3, status = $4, data = $5, facts = COALESCE($6, facts),
               history = COALESCE($7, history), handoff = COALESCE($8, handoff) WHERE run_id = $1 AND version = $2`,
            row,
          )
        ).rowCount === 1,
    });
    return committed ? { committed } : { committed, current: await this.get(prev.runId) };
  }
  async requestStop(runId: string, reason: string, at: number) {
    const { rows } = await this.db.query<{ stopped: boolean }>(
      "run_stop",
      `WITH s AS (UPDATE ${this.S}.runs SET stop_at = $3, stop_reason = $2, version = version + 1
                  WHERE run_id = $1 AND stop_reason IS NULL RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM s) OR EXISTS (SELECT 1 FROM ${this.S}.runs WHERE run_id = $1) AS stopped`,
      [runId, reason, at],
    );
    return rows[0]?.stopped === true;
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

class PgMutations implements MutationStore {
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

class PgApprovals implements ApprovalStore {
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

class PgHandoffs implements HandoffStore {
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

class PgFreezes implements FreezeStore {
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
