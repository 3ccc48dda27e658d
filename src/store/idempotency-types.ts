/**
 * The idempotency records of the Store interface (see types.ts, which re-exports them):
 * what a claim asks, what it answers, and the invariants every store keeps.
 */
import type { Failure } from "../failure.js";

// ---------------------------------------------------------------- idempotency

/** What a completed call recorded, to be replayed to a repeat of the same call. */
export type StoredOutcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      failure: Failure;
      /**
       * The tool returned (it said it was done) but its effect could not be confirmed. On an
       * unsettled record: a probe that later says "not seen" does not make a repeat safe
       * (a read-back may lag), so only a "seen" settles it.
       */
      returned?: true;
    };

export interface IdempotencyRecord {
  /** The tool's name: keys are unique within a scope. */
  scope: string;
  key: string;
  /** Hash of the canonical arguments: the same key with other arguments is a conflict. */
  fingerprint: string;
  /**
   * in_flight: an owner holds it under a lease. completed: its outcome is recorded.
   * unsettled: its owner ran the tool (or took over one that did) and could not tell whether
   * the effect took place; it stays, never swept and never taken over by a lapse, until a
   * probe or a person settles it, so that no repeat runs the effect a second time.
   */
  state: "in_flight" | "completed" | "unsettled";
  /**
   * How many times the record's effect was found gone and the call ran anew (0 at first):
   * the tool's ctx.idempotencyKey carries it, so a new execution is not deduplicated
   * downstream into the old one.
   */
  generation: number;
  /** Who holds the claim (a call id). */
  owner: string;
  runId: string;
  /**
   * While in flight: when the claim lapses if its owner has died. On a store that judges
   * leases by the caller's `now` (memory, SQLite: one host, one clock), on that clock. On
   * one that judges them by its own (PostgreSQL), a claim's answer gives it on the
   * caller's clock (the caller's `now` plus the time the lease has left), and `get` and
   * `unfinished` give the store's own time.
   */
  leaseUntil: number;
  createdAt: number;
  /** When the record may be swept. */
  expiresAt: number;
  outcome?: StoredOutcome;
}

export interface ClaimRequest {
  scope: string;
  key: string;
  fingerprint: string;
  owner: string;
  runId: string;
  /** The caller's time: the record's createdAt and expiry, and its lease unless the store judges leases by its own clock. */
  now: number;
  /** How long the claim is held without a renewal before another caller may take it over. */
  leaseMs: number;
  retentionMs: number;
  /**
   * Take over the completed or unsettled record that `owner` left (its effect no longer
   * stands, or a probe settled it), with this generation; as a plain claim if the record is
   * not that one any more (someone else got there first).
   */
  replace?: { owner: string; generation: number };
}

export type ClaimResult =
  /**
   * The caller now owns the key and should execute. `fence` grows with every claim the
   * store grants: a system the tool writes to may refuse a write that carries a smaller
   * one than it has seen (a paused owner whose key was taken over).
   */
  | { status: "claimed"; fence: number; stop?: RunStop | null }
  /** The key was completed before: replay its outcome. */
  | { status: "completed"; record: IdempotencyRecord }
  /** Another owner holds a live lease: wait for it. */
  | { status: "in_flight"; record: IdempotencyRecord }
  /** Its owner left it unsettled: settle it (the tool's probe, or a person) before anything runs. */
  | { status: "unsettled"; record: IdempotencyRecord }
  /** The key exists with another fingerprint. */
  | { status: "conflict"; record: IdempotencyRecord }
  /**
   * The previous owner's lease lapsed without completing (it crashed, or was killed
   * after a side effect but before recording it). The caller now owns the key, but must
   * settle whether the effect happened (the tool's verify probe) before executing.
   */
  | { status: "lease_expired"; record: IdempotencyRecord; fence: number; stop?: RunStop | null };

/**
 * A claim's `stop`: the stop requested for the claim's run, read in the claim's own
 * transaction in such a way that a stop recorded after it waits for that transaction (null:
 * none). The idempotency stage then needs no read of its own after the claim; a store that
 * does not answer it (absent) is asked `runs.stopRequested` after the claim.
 */
export interface RunStop {
  reason: string;
  at: number;
}

export interface IdempotencyStore {
  /**
   * Atomically claim `key`, or report who has it. An expired completed record is replaced.
   * A claim that rejects must not take effect later (a statement left running on a server
   * after its client gave up): its caller never runs, and nobody could settle the key.
   */
  claim(req: ClaimRequest): Promise<ClaimResult>;
  /**
   * Record the outcome, as completed or (`as: "unsettled"`) as a claim its owner could not
   * settle; false when `owner` no longer holds the claim.
   */
  complete(scope: string, key: string, owner: string, outcome: StoredOutcome, now: number, as?: "completed" | "unsettled"): Promise<boolean>;
  /**
   * The key of the most recently claimed record of `scope` and run `runId` that is completed
   * or unsettled, among keys that start with `keyPrefix`: what the run last did with the tool.
   */
  latestInRun(scope: string, runId: string, keyPrefix: string): Promise<string | undefined>;
  /**
   * The claims of run `runId` that are in flight or unsettled, oldest first: the calls whose
   * effect may stand without being in the mutation ledger yet (rollback waits for them, and
   * reports those it could not wait out).
   */
  unfinished(runId: string): Promise<IdempotencyRecord[]>;
  /**
   * Extend the lease of the in-flight claim `owner` holds to at least `leaseUntil`, while its
   * call is alive; false when it holds it no more (it lapsed and was taken over). A store
   * that judges leases by its own clock extends it to its own time plus the claim's
   * `leaseMs` instead (the caller asks for its `now` plus the same).
   */
  renew(scope: string, key: string, owner: string, leaseUntil: number): Promise<boolean>;
  /** Drop an in-flight claim held by `owner` (execution failed: the key may run again). */
  release(scope: string, key: string, owner: string): Promise<void>;
  get(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Resolve when the record for `key` may have changed (completed, released) or after
   * `timeoutMs`, whichever is first. Callers re-`claim` afterwards; spurious wake-ups are fine.
   */
  waitForChange(scope: string, key: string, timeoutMs: number): Promise<void>;
  /**
   * Delete completed records whose `expiresAt` has passed; returns how many. In-flight and
   * unsettled claims are never swept: an effect may stand behind them, and a repeat that
   * found no record would run it again.
   */
  sweep(now: number): Promise<number>;
}
