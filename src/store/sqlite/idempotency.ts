/** The SQLite store's idempotency records: claims, leases, completions, waiters. */
import type { Db } from "./driver.js";
import {
  idempotencyRecord,
  nothingToWaitFor,
  snapshotOf,
  toJson,
  Waiters,
  type IdempotencyRow,
} from "../durable.js";
import type { SqliteGuard } from "./alerts.js";
import { dialect, params } from "../sql/dialect.js";
import { recordSql } from "../sql/records.js";
import type {
  ClaimRequest,
  ClaimResult,
  IdempotencyStore,
  RunStop,
  StoredOutcome,
} from "../types.js";

export class SqliteIdempotency implements IdempotencyStore {
  private readonly select;
  private readonly upsert;
  private readonly insertFresh;
  private readonly completeStmt;
  private readonly latestStmt;
  private readonly unfinishedStmt;
  private readonly extendStmt;
  private readonly releaseStmt;
  private readonly renewStmt;
  private readonly sweepStmt;
  private readonly dataVersion;
  private readonly stopStmt;
  private readonly waiters = new Waiters();
  /** Keys waited on, with the snapshot each waiter started from. */
  private readonly watched = new Map<string, { scope: string; key: string; snapshot: string }>();
  private poller: NodeJS.Timeout | undefined;
  private lastVersion = -1;

  constructor(
    db: Db,
    private readonly g: SqliteGuard,
    private readonly pollMs: number,
  ) {
    this.select = db.prepare<[string, string], IdempotencyRow>(
      `SELECT scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome
       FROM idempotency WHERE scope = ? AND key = ?`,
    );
    // A key not yet in the table (a write call's own, nearly always): claimed by one
    // statement, with no read before it. Its new rowid is the fence, as REPLACE's would be.
    this.insertFresh = db.prepare(
      `INSERT INTO idempotency
         (scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome)
       VALUES (?, ?, ?, 'in_flight', 0, ?, ?, ?, ?, ?, NULL) ON CONFLICT (scope, key) DO NOTHING`,
    );
    // REPLACE deletes the old row and inserts a new one: a new rowid, the claim order.
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO idempotency
         (scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome)
       VALUES (?, ?, ?, 'in_flight', ?, ?, ?, ?, ?, ?, NULL)`,
    );
    // The run's keys of one tool share a prefix: a range of the (scope, key) index.
    this.latestStmt = db
      .prepare<[string, string, string, string], string>(
        `SELECT key FROM idempotency WHERE scope = ? AND key >= ? AND key < ? AND run_id = ? AND state <> 'in_flight'
         ORDER BY id DESC LIMIT 1`,
      )
      .pluck();
    this.unfinishedStmt = db.prepare<[string], IdempotencyRow>(
      `SELECT scope, key, fingerprint, state, generation, owner, run_id, lease_until, created_at, expires_at, outcome
       FROM idempotency WHERE run_id = ? AND state <> 'completed' ORDER BY id`,
    );
    // expires_at is indexed: it is written only when it must move (a retention shorter than
    // the call), so that a completion rewrites its row and no index page.
    this.completeStmt = db.prepare<[string, string | null, string, string, string], { expires_at: number }>(
      `UPDATE idempotency SET state = ?, outcome = ?
       WHERE scope = ? AND key = ? AND owner = ? AND state = 'in_flight' RETURNING expires_at`,
    );
    this.extendStmt = db.prepare("UPDATE idempotency SET expires_at = ? WHERE scope = ? AND key = ?");
    this.releaseStmt = db.prepare("DELETE FROM idempotency WHERE scope = ? AND key = ? AND owner = ? AND state = 'in_flight'");
    this.renewStmt = db.prepare(
      "UPDATE idempotency SET lease_until = max(lease_until, ?) WHERE scope = ? AND key = ? AND owner = ? AND state = 'in_flight'",
    );
    this.sweepStmt = db.prepare(
      "DELETE FROM idempotency WHERE expires_at <= ? AND state = 'completed'",
    );
    this.dataVersion = db.prepare("PRAGMA data_version").pluck();
    this.stopStmt = db.prepare<[Record<string, unknown>], { stop_reason: string | null; stop_at: number | null }>(recordSql(dialect.sqlite).runStopGet);
  }

  /**
   * The claim's run's stop, read in the claim's transaction (see RunStop): it holds the write
   * lock, so a stop recorded after this read waits for the claim's commit, and a rollback
   * that stops the run then finds the claim. Saves the call a read of its own after the claim.
   */
  private stopOf(runId: string): RunStop | null {
    const r = this.stopStmt.get(params(runId));
    return r && r.stop_reason !== null && r.stop_at !== null ? { reason: r.stop_reason, at: Number(r.stop_at) } : null;
  }

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const result = await this.g.write((): ClaimResult => {
      const fresh = this.insertFresh.run(
        req.scope, req.key, req.fingerprint, req.owner, req.runId, req.now + req.leaseMs, req.now, req.now + req.retentionMs,
      );
      if (fresh.changes === 1) return { status: "claimed", fence: Number(fresh.lastInsertRowid), stop: this.stopOf(req.runId) };
      const row = this.select.get(req.scope, req.key);
      // The new row's rowid is the fence: REPLACE inserts a new row, so it only grows.
      const take = (generation: number) =>
        Number(this.upsert.run(
          req.scope, req.key, req.fingerprint, generation, req.owner, req.runId,
          req.now + req.leaseMs, req.now, req.now + req.retentionMs,
        ).lastInsertRowid);
      if (!row || (row.state === "completed" && row.expires_at <= req.now)) {
        return { status: "claimed", fence: take(0), stop: this.stopOf(req.runId) };
      }
      const record = idempotencyRecord(row);
      if (row.fingerprint !== req.fingerprint) return { status: "conflict", record };
      if (req.replace && row.state !== "in_flight" && row.owner === req.replace.owner) {
        return { status: "claimed", fence: take(req.replace.generation), stop: this.stopOf(req.runId) };
      }
      if (row.state === "completed") return { status: "completed", record };
      if (row.state === "unsettled") return { status: "unsettled", record };
      if (row.lease_until > req.now) return { status: "in_flight", record };
      return { status: "lease_expired", record, fence: take(row.generation), stop: this.stopOf(req.runId) };
    });
    if (result.status === "in_flight") this.waiters.saw(Waiters.id(req.scope, req.key), snapshotOf(result.record));
    return result;
  }

  async complete(scope: string, key: string, owner: string, outcome: StoredOutcome, now: number, as: "completed" | "unsettled" = "completed") {
    const json = toJson(outcome);
    const ok = await this.g.write(() => {
      const row = this.completeStmt.get(as, json, scope, key, owner);
      if (row && row.expires_at < now) this.extendStmt.run(now, scope, key);
      return row !== undefined;
    });
    if (ok) this.waiters.wake(Waiters.id(scope, key));
    return ok;
  }

  async renew(scope: string, key: string, owner: string, leaseUntil: number) {
    return this.g.write(() => this.renewStmt.run(leaseUntil, scope, key, owner).changes === 1);
  }

  async release(scope: string, key: string, owner: string) {
    await this.g.write(() => this.releaseStmt.run(scope, key, owner));
    this.waiters.wake(Waiters.id(scope, key));
  }

  async get(scope: string, key: string) {
    return this.g.read(() => {
      const row = this.select.get(scope, key);
      return row && idempotencyRecord(row);
    });
  }

  async waitForChange(scope: string, key: string, timeoutMs: number): Promise<void> {
    const id = Waiters.id(scope, key);
    const seen = this.waiters.takeSeen(id);
    // Register first, then look: a change is either seen now or wakes the waiter.
    const { promise, wake } = this.waiters.wait(id, timeoutMs);
    let row: IdempotencyRow | undefined;
    try {
      row = await this.g.read(() => this.select.get(scope, key));
    } catch (e) {
      wake();
      throw e;
    }
    const now = snapshotOf(row);
    if (nothingToWaitFor(row) || (seen !== undefined && seen !== now)) {
      wake(); // done, or it changed between the claim that answered in_flight and this wait
    } else {
      if (!this.watched.has(id)) this.watched.set(id, { scope, key, snapshot: now });
      this.startPolling();
    }
    await promise;
    if (!this.waiters.has(id)) this.watched.delete(id);
  }

  async latestInRun(scope: string, runId: string, keyPrefix: string) {
    return this.g.read(() => this.latestStmt.get(scope, keyPrefix, `${keyPrefix}\u{10FFFF}`, runId));
  }

  async unfinished(runId: string) {
    return this.g.read(() => this.unfinishedStmt.all(runId).map(idempotencyRecord));
  }

  async sweep(now: number) {
    return this.g.write(() => this.sweepStmt.run(now).changes);
  }

  /** Other processes' commits are seen by polling `data_version`, only while someone waits. */
  private startPolling() {
    if (this.poller) return;
    this.lastVersion = this.dataVersion.get() as number;
    this.poller = setInterval(() => this.poll(), this.pollMs);
    this.poller.unref();
  }

  private poll() {
    if (this.waiters.size === 0) {
      clearInterval(this.poller);
      this.poller = undefined;
      this.watched.clear();
      return;
    }
    try {
      const v = this.dataVersion.get() as number;
      if (v === this.lastVersion) return;
      this.lastVersion = v;
      for (const [id, w] of this.watched) {
        if (snapshotOf(this.select.get(w.scope, w.key)) !== w.snapshot) {
          this.watched.delete(id);
          this.waiters.wake(id);
        }
      }
    } catch {
      // Busy or gone: wake everyone; their next claim reports the failure.
      this.watched.clear();
      this.waiters.wakeAll();
    }
  }

  stop() {
    clearInterval(this.poller);
    this.poller = undefined;
    this.waiters.wakeAll();
  }
}
