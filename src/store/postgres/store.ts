/**
 * The PostgreSQL store: for several processes or machines sharing idempotency records,
 * breakers, runs and approvals. A pool of connections, one schema (default "bulwark"),
 * claims by `INSERT … ON CONFLICT`, waiters woken by LISTEN/NOTIFY. Any database failure
 * is thrown as `StoreUnavailableError`; the pool reconnects by itself when the database is back.
 */
import type pg from "pg";
import { unavailable } from "../durable.js";
import { postgresMigrations } from "../migrations/postgres.js";
import { PgAlerts, PgMonitors } from "./alerts.js";
import { PgShadowDecisions } from "../shadow-decisions.js";
import { PgCallJournal } from "../call-journal.js";
import type {
  AlertStore,
  MonitorStore,
  ApprovalStore,
  BreakerStore,
  FreezeStore,
  HandoffStore,
  MutationStore,
  RunStore,
  ShadowDecisionStore,
  Store,
} from "../types.js";
import { Db, type Resolved, driver } from "./db.js";
import { PgIdempotency } from "./idempotency.js";
import { PgApprovals, PgBreakers, PgFreezes, PgHandoffs, PgMutations, PgRuns } from "./records.js";
import { dialect } from "../sql/dialect.js";
import { recordSql } from "../sql/records.js";

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
   * one event-loop turn as one statement (see group-commit.ts) [true].
   */
  groupCommit?: boolean;
}

/** `pg` is an optional peer, loaded when a PostgreSQL store is first opened. */

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
  readonly callJournal: PgCallJournal;
  private readonly db: Db;

  constructor(pool: pg.Pool, r: Resolved) {
    this.db = new Db(pool, r);
    const S = `"${r.schema}"`;
    this.idempotency = new PgIdempotency(this.db, S);
    const sql = recordSql(dialect.postgres(S));
    this.breakers = new PgBreakers(this.db, sql);
    this.runs = new PgRuns(this.db, sql, S);
    this.mutations = new PgMutations(this.db, sql);
    this.approvals = new PgApprovals(this.db, sql);
    this.handoffs = new PgHandoffs(this.db, sql);
    this.freezes = new PgFreezes(this.db, sql);
    this.alerts = new PgAlerts(this.db, S);
    this.monitors = new PgMonitors(this.db, S);
    this.shadow = new PgShadowDecisions(this.db, S);
    this.callJournal = new PgCallJournal(this.db, S);
  }

  async close() {
    if (this.db.closed) return;
    this.db.closed = true;
    await this.idempotency.stop();
    await this.db.pool.end();
  }
}
