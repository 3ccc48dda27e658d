/**
 * What the SQL stores (SQLite, PostgreSQL) share: how records map to rows and back, and the
 * in-process registry of `waitForChange` waiters. Records are kept as JSON text beside the
 * columns that queries filter, sort or update on, so that fields added to a record later
 * persist without a migration and values round-trip exactly.
 */
import {
  StoreUnavailableError,
  type ApprovalRecord,
  type BreakerRecord,
  type FreezeRecord,
  type HandoffRecord,
  type IdempotencyRecord,
  type MutationRecord,
  type RunRecord,
  type StoredOutcome,
} from "./types.js";

/** An error's message for ours (each of an AggregateError's, a code when there is no message). */
export function describe(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return e.errors.map(describe).join("; ");
  if (e instanceof Error) return e.message || (e as { code?: string }).code || e.name;
  return String(e);
}

/** A failure of the database at `where` as a StoreUnavailableError (one already is passes through). */
export function unavailable(where: string, e: unknown): StoreUnavailableError {
  return e instanceof StoreUnavailableError ? e : new StoreUnavailableError(`${where}: ${describe(e)}`, { cause: e });
}

/** A call on a store after its `close`. */
export const storeClosed = (db: "SQLite" | "PostgreSQL") => new StoreUnavailableError(`the ${db} store is closed`);

export const toJson = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const fromJson = <T>(s: string | null | undefined): T | undefined =>
  s === null || s === undefined ? undefined : (JSON.parse(s) as T);

export interface IdempotencyRow {
  scope: string;
  key: string;
  fingerprint: string;
  state: string;
  owner: string;
  run_id: string;
  lease_until: number;
  created_at: number;
  expires_at: number;
  outcome: string | null;
  generation: number;
}

export function idempotencyRecord(r: IdempotencyRow): IdempotencyRecord {
  const rec: IdempotencyRecord = {
    scope: r.scope,
    key: r.key,
    fingerprint: r.fingerprint,
    state: r.state as IdempotencyRecord["state"],
    generation: Number(r.generation),
    owner: r.owner,
    runId: r.run_id,
    leaseUntil: Number(r.lease_until),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
  const outcome = fromJson<StoredOutcome>(r.outcome);
  if (outcome !== undefined) rec.outcome = outcome;
  return rec;
}

export interface RunRow {
  stop_reason: string | null;
  stop_at: number | null;
  version: number | string;
  data: string;
  facts: string | null;
  history: string | null;
  handoff: string | null;
}

/** The run's small, hot part as stored in `data` (the rest has columns of its own). */
export function runData(record: RunRecord): string {
  const { stopRequested: _s, version: _v, facts: _f, history: _h, handoff: _o, ...rest } = record;
  return JSON.stringify(rest);
}

/** Each large part as text, or null when `next` has the same one as `prev` (left as stored). */
export function runParts(prev: RunRecord | undefined, next: RunRecord): { facts: string | null; history: string | null; handoff: string | null } {
  const part = (k: "facts" | "history" | "handoff") => (prev && prev[k] === next[k] ? null : toJson(next[k]));
  return { facts: part("facts"), history: part("history"), handoff: part("handoff") };
}

export function runRecord(r: RunRow): RunRecord {
  const rec = withRunDefaults(JSON.parse(r.data) as RunRecord);
  rec.version = Number(r.version);
  if (r.stop_reason !== null && r.stop_at !== null) rec.stopRequested = { reason: r.stop_reason, at: Number(r.stop_at) };
  const facts = fromJson(r.facts);
  if (facts !== undefined) rec.facts = facts;
  const history = fromJson(r.history);
  if (history !== undefined) rec.history = history;
  const handoff = fromJson<HandoffRecord>(r.handoff);
  if (handoff !== undefined) rec.handoff = handoff;
  return rec;
}

/** A record written before runs kept their guards (schema 3 and older) gets their starting values. */
export function withRunDefaults(r: RunRecord): RunRecord {
  r.version ??= 0;
  r.destructive ??= { used: 0, inFlight: [] };
  r.failures ??= [];
  r.unverifiedDepth ??= 0;
  r.gates ??= [];
  r.confidence ??= 1;
  r.reviews ??= [];
  return r;
}

export interface MutationRow {
  status: string;
  error: string | null;
  data: string;
}

export function mutationRecord(r: MutationRow): MutationRecord {
  const rec = JSON.parse(r.data) as MutationRecord;
  rec.status = r.status as MutationRecord["status"];
  if (r.error !== null) rec.error = r.error;
  return rec;
}

export interface ApprovalRow {
  status: string;
  decided_at: number | null;
  decided_by: string | null;
  decision_reason: string | null;
  data: string;
}

export function approvalRecord(r: ApprovalRow): ApprovalRecord {
  const rec = JSON.parse(r.data) as ApprovalRecord;
  rec.status = r.status as ApprovalRecord["status"];
  if (r.decided_at !== null) rec.decidedAt = Number(r.decided_at);
  if (r.decided_by !== null) rec.by = r.decided_by;
  if (r.decision_reason !== null) rec.reason = r.decision_reason;
  return rec;
}

export const breakerRecord = (r: { data: string }) => JSON.parse(r.data) as BreakerRecord;
export const handoffRecord = (r: { data: string }) => JSON.parse(r.data) as HandoffRecord;
export const freezeRecord = (r: { data: string }) => JSON.parse(r.data) as FreezeRecord;

/** A record's identity as far as waiters care: who holds it and whether it is done. */
export const snapshotOf = (r: { state: string; owner: string } | undefined) => (r ? `${r.state}\u0000${r.owner}` : "none");

/** A record gone, completed or unsettled will not change by itself: a waiter on it returns at once. */
export const nothingToWaitFor = (r: { state: string } | undefined) => !r || r.state !== "in_flight";

/**
 * Waiters of this process, by key, and what this process last saw of each key from
 * `claim`. A waiter compares against that to catch a change that happened between the
 * `claim` that answered `in_flight` and the start of the wait.
 */
export class Waiters {
  private readonly byId = new Map<string, Set<() => void>>();
  private readonly seen = new Map<string, string>();
  private static readonly maxSeen = 10_000;

  static id(scope: string, key: string) {
    return `${scope.length}:${scope}${key}`;
  }

  /** Remember what `claim` reported for a key (only for in-flight answers). */
  saw(id: string, snapshot: string) {
    this.seen.delete(id);
    this.seen.set(id, snapshot);
    if (this.seen.size > Waiters.maxSeen) this.seen.delete(this.seen.keys().next().value as string);
  }

  /** The snapshot `claim` last reported for the key, consumed. */
  takeSeen(id: string): string | undefined {
    const s = this.seen.get(id);
    this.seen.delete(id);
    return s;
  }

  /** Register a waiter; resolves on wake or after `timeoutMs`. `onEnd` runs once either way. */
  wait(id: string, timeoutMs: number): { promise: Promise<void>; wake: () => void } {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => {
      const set = this.byId.get(id) ?? new Set();
      this.byId.set(id, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.byId.get(id) === set) this.byId.delete(id);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      set.add(done);
      wake = done;
    });
    return { promise, wake };
  }

  wake(id: string) {
    for (const w of [...(this.byId.get(id) ?? [])]) w();
  }

  wakeAll() {
    for (const set of [...this.byId.values()]) for (const w of [...set]) w();
  }

  has(id: string) {
    return this.byId.has(id);
  }

  get size() {
    return this.byId.size;
  }
}
