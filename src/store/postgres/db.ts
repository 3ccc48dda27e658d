/**
 * The PostgreSQL store's pool and the statements its records share a turn through: every
 * failure mapped to StoreUnavailableError, the group commit (group-commit.ts) with one
 * set-based part per hot operation, and the database clock that leases are judged by.
 */
import type pg from "pg";
import { requirePeer } from "../../optional.js";
import { storeClosed, unavailable, Waiters } from "../durable.js";
import { journalInsert } from "../call-journal.js";
import {
  GroupCommit,
  type Op,
  type Part,
  type Trailer,
} from "./group-commit.js";
import { StoreUnavailableError, type RunStore } from "../types.js";

/** The `pg` module, an optional peer: loaded when a PostgreSQL store is opened. */
export const driver = () => requirePeer<typeof pg>("pg", "The PostgreSQL store", "pg@8");

export interface Resolved {
  url: string;
  shown: string;
  schema: string;
  config: pg.PoolConfig;
  groupCommit: boolean;
}

/**
 * The pool, its error mapping and its group commit (see group-commit.ts): runs queries on
 * the pool; every failure becomes a StoreUnavailableError.
 */
export class Db {
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
export const DB_NOW = "(extract(epoch FROM clock_timestamp()) * 1000)::float8";

// ---------------------------------------------------------------- group-commit parts
// Each part is one kind of operation as a set-based statement over arrays (see
// group-commit.ts); every answer row is (k: the part, i: the item, a, b, c).

export const claimPart: Part = {
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
    // The run's stop, read in the claim's statement: `requestStop` locks the idempotency
    // table against writers (SHARE) before it records a stop, and a statement takes its
    // table locks before its snapshot, so a stop is either in this snapshot or recorded
    // after this claim commits (and then a rollback's look for claims in flight finds it).
    select: `SELECT 'c', cu.i, c.seq::text, r.stop_reason, r.stop_at::text FROM cu JOIN c USING (scope, key) LEFT JOIN ${S}.runs r ON r.run_id = cu.run_id`,
  }),
};

export const completePart: Part = {
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

export const releasePart: Part = {
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

export const mutationPart: Part = {
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

/**
 * A run's compare-and-set (see RunStore.commit): the item's row comes back when it was
 * written, and its call journal entries are appended with it (and only then).
 */
export const runCommitPart: Part = {
  tag: "w",
  types: ["text[]", "float8[]", "float8[]", "text[]", "text[]", "text[]", "text[]", "text[]", "text[]", "float8[]", "float8[]"],
  sql: (S, p) => ({
    ctes: [
      `w AS (UPDATE ${S}.runs t SET version = x.version, status = x.status, data = x.data, facts = COALESCE(x.facts, t.facts),
               history = COALESCE(x.history, t.history), handoff = COALESCE(x.handoff, t.handoff)
               FROM unnest(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)}, ${p(11)}) WITH ORDINALITY
                 AS x(run_id, prev, version, status, data, facts, history, handoff, journal, journal_first, journal_last, i)
              WHERE t.run_id = x.run_id AND t.version = x.prev
             RETURNING x.i, x.run_id, x.journal, x.journal_first, x.journal_last)`,
      journalInsert(S, "w"),
    ],
    select: `SELECT 'w', i, NULL, NULL, NULL FROM w`,
  }),
};

/** Every item of this part shares the answer (item 0): the declared freezes, in order. */
export const freezeListPart: Part = {
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
export const lockOf = (scope: string, key: string) => `i\u0000${Waiters.id(scope, key)}`;

const parts: readonly Part[] = [runCommitPart, freezeListPart, claimPart, completePart, releasePart, mutationPart];
const trailers: readonly Trailer[] = [notifyTrailer];
