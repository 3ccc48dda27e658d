/** The PostgreSQL store's idempotency records: claims and takeovers, leases on the database clock, completions, waiters woken by NOTIFY. */
import { createHash } from "node:crypto";
import type pg from "pg";
import {
  idempotencyRecord,
  nothingToWaitFor,
  snapshotOf,
  storeClosed,
  toJson,
  unavailable,
  Waiters,
  type IdempotencyRow,
} from "../durable.js";
import {
  StoreUnavailableError,
  type ClaimRequest,
  type ClaimResult,
  type IdempotencyStore,
  type StoredOutcome,
} from "../types.js";
import { DB_NOW, Db, claimPart, completePart, driver, lockOf, releasePart } from "./db.js";

export class PgIdempotency implements IdempotencyStore {
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
    // A fresh claim comes with its run's stop, read in the same statement (see claimPart).
    const claimed = (seq: string, stopReason: string | null, stopAt: string | null): ClaimResult => ({
      status: "claimed",
      fence: Number(seq),
      stop: stopReason === null ? null : { reason: stopReason, at: Number(stopAt) },
    });
    const insert = async () => {
      const { rows } = await this.db.query<{ seq: string; stop_reason: string | null; stop_at: string | null }>(
        "claim_insert",
        `WITH c AS (
           INSERT INTO ${S}.idempotency (scope, key, fingerprint, owner, run_id, lease_until, lease_ms, created_at, expires_at, state)
           VALUES ($1, $2, $3, $4, $5, ${DB_NOW} + $6::float8, $6, $7, $8, 'in_flight') ON CONFLICT (scope, key) DO NOTHING RETURNING seq
         )
         SELECT c.seq::text, r.stop_reason, r.stop_at::text FROM c LEFT JOIN ${S}.runs r ON r.run_id = $5`,
        fresh,
      );
      const row = rows[0];
      return row && claimed(row.seq, row.stop_reason, row.stop_at);
    };
    // A fresh key: one statement (shared with the other claims of this turn). A key that
    // exists: one more, which locks the row, takes it over if its completed record expired
    // or its lease lapsed, and returns what it was. If the row vanished in between
    // (released, swept), start again.
    for (let attempt = 0; attempt < 8; attempt++) {
      const inserted =
        attempt === 0
          ? await this.db.batched<ClaimResult | undefined>({
              part: claimPart,
              lock: lockOf(req.scope, req.key),
              row: fresh,
              answer: ([row]) => row && claimed(row.a!, row.b, row.c),
              alone: insert,
            })
          : await insert();
      if (inserted) return inserted;
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
