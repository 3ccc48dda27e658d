/**
 * The Store: everything the runtime keeps beyond one call. Memory, SQLite and PostgreSQL
 * implement it and pass one conformance suite (`conformance.ts`). Every method is async so
 * that a networked store fits; times are epoch milliseconds passed in by the caller (the
 * runtime's clock), never read from the store's own clock, so tests with fake time work.
 * One exception: a store that several machines share may judge leases by its own clock
 * (PostgreSQL does, see `leaseUntil`), so that processes whose clocks differ agree on
 * when a claim lapses; its conformance suite is run with `{ leaseClock: "store" }`.
 */

export * from "./idempotency-types.js";
import type { IdempotencyStore } from "./idempotency-types.js";

// ---------------------------------------------------------------- breakers

/** A tool's breaker as shared between processes. */
export interface BreakerRecord {
  tool: string;
  state: "closed" | "open" | "half_open";
  /** When the breaker last opened (open, half_open). */
  openedAt?: number;
  reason?: string;
  updatedAt: number;
}

export interface BreakerStore {
  get(tool: string): Promise<BreakerRecord | undefined>;
  put(record: BreakerRecord): Promise<void>;
  list(): Promise<BreakerRecord[]>;
}

// ---------------------------------------------------------------- runs

export type RunMode = "normal" | "read_only" | "handed_off" | "halted";
export type RunStatus = "running" | "ended";

/**
 * A run's state as the store keeps it: everything that must hold when the run's next call
 * comes from another process, or after a restart. `run-state.ts` makes every change to it
 * (pure functions of the record, applied through `commit`); the store only keeps it.
 */
/** A mutation whose effect has not been read back (its arguments as redacted for the store). */
export interface UnverifiedWrite {
  tool: string;
  args: unknown;
}

export interface RunRecord {
  runId: string;
  agent: string;
  status: RunStatus;
  mode: RunMode;
  /** Why the run left normal mode. */
  reason?: string;
  /** What put the run in read-only mode: a person's review lifts only "budget". */
  narrowedBy?: "budget" | "confidence";
  /** Set by `requestStop` from any process; the run enforces it at its next call. */
  stopRequested?: { reason: string; at: number };
  /** Calls admitted (steps reserved), replays given back. */
  steps: number;
  startedAt: number;
  endedAt?: number;
  updatedAt: number;
  /** Bumped by every `commit` and every effective `requestStop`: what `commit` compares. */
  version: number;
  /** Destructive actions done since the last review, and those admitted and not yet settled (a slot whose `until` passed counts as done: its process died). */
  destructive: { used: number; inFlight: { callId: string; until: number }[] };
  /** The failures in a row that count toward the chain breaker, oldest first. */
  failures: { tool: string; kind: string }[];
  /** Mutations in a row whose effect was not verified. */
  unverifiedDepth: number;
  /** The latest unverified mutations, newest last, for the reads that verify them (decide/gate.ts). */
  unverifiedWrites?: UnverifiedWrite[];
  /** The last verification gates passed, with their reasons. */
  gates: { reason: string; at: number }[];
  /** 1 down to 0; never rises within a run. */
  confidence: number;
  /** Reviews by a person of the changes made (each renews the destructive budget). */
  reviews: { by: string; note?: string; at: number }[];
  /** The facts ledger (decide/ledger.ts `LedgerData`). */
  facts?: unknown;
  /** The recent calls and decisions a handoff needs (decide/handoff.ts `HistoryData`). */
  history?: unknown;
  /** The handoff record, once the run was handed to a person. */
  handoff?: HandoffRecord;
}

export type CommitResult = { committed: true } | { committed: false; current: RunRecord | undefined };

/**
 * Runs, shared by every process that works them. The invariants the runtime relies on:
 *
 * - `create` is atomic: of several processes creating one id at once, one creates it and
 *   the others get the record it created (they resume it).
 * - `commit(prev, next)` is a compare-and-set on `version`: it stores `next` (whose
 *   version is `prev.version + 1`) only if the stored version is still `prev.version`, and
 *   otherwise stores nothing and returns the current record. So a change computed from a
 *   stale record is never written: the caller recomputes it from `current`. This is what
 *   keeps budgets and steps from being overspent by processes reserving at once, and what
 *   keeps a halt or a mode change from being undone by a concurrent save. (The runtime
 *   counts the steps of reads in the process and adds them at its next commit: see
 *   READ_FRESH_MS in run-state.ts; changes always reserve here.) `facts`,
 *   `history` and `handoff` are written only when `next`'s differ from `prev`'s (by
 *   reference): they are large and change seldom.
 * - `requestStop` never loses a stop and bumps `version` when it records one, so that the
 *   run's next commit fails, re-reads, and finds it. `commit` keeps `stopRequested` as
 *   stored (only `requestStop` sets it).
 * - Records given to and returned by `commit` are treated as immutable by both sides (the
 *   memory store keeps the object it was given); `get` and `list` return copies.
 */
export interface RunStore {
  get(runId: string): Promise<RunRecord | undefined>;
  /** Insert `record` unless the id exists; either way, the record now stored. */
  create(record: RunRecord): Promise<{ created: boolean; record: RunRecord }>;
  /**
   * `calls`: entries of the run's call journal, appended in the same transaction as `next`
   * and only if it is committed (see CallJournalStore). Optional so that a store written
   * before the journal existed still fits: it ignores them, and keeps no journal.
   */
  commit(prev: RunRecord, next: RunRecord, calls?: readonly CallJournalEntry[]): Promise<CommitResult>;
  /** Ask a run to stop, from any process; false when the run does not exist. */
  requestStop(runId: string, reason: string, at: number): Promise<boolean>;
  /**
   * The stop requested for a run, if any (undefined for an unknown run): `get` without the
   * record, asked after every claim of a change whose answer did not carry it (see RunStop
   * and the idempotency stage), so it reads one row's two columns and parses nothing.
   */
  stopRequested(runId: string): Promise<{ reason: string; at: number } | undefined>;
  /** Newest first. */
  list(filter?: { status?: RunStatus; limit?: number }): Promise<RunRecord[]>;
}

// ---------------------------------------------------------------- the call journal

/*
 * Semantics (memory in call-journal.ts is the reference): entries are appended only by
 * `RunStore.commit`, in the transaction that commits the run's record, so a journal costs
 * no round trip of its own. Each commit's entries share a `seq`, given by the store and
 * increasing from commit to commit; a page of a run's calls holds whole commits. A call
 * sent again (a commit repeated after a lost answer) is read once.
 */

/** One call of a run, as the run's timeline shows it. */
export interface CallJournalEntry {
  runId: string;
  /** Bulwark's id of the call. */
  callId: string;
  /** The model's id of the tool call, when the adapter knows it (`gen_ai.tool.call.id`). */
  toolCallId?: string;
  tool: string;
  effect: "read" | "write" | "destructive";
  ok: boolean;
  /** The outcome was a replay of an earlier call's (a repeated key). */
  replayed?: boolean;
  /** Why it failed: the kind, the stage that refused it, the message (cut, redacted). */
  failure?: { kind: string; stage?: string; message: string };
  /** From the call's start to its outcome. */
  latencyMs: number;
  attempts: number;
  /** When the call started (epoch ms, the runtime's clock). */
  at: number;
  /** The run's confidence once the call was settled. */
  confidence: number;
}

export type JournaledCall = CallJournalEntry & { seq: number };

/**
 * The journal of every call of every run (the run record's history keeps only the last
 * few). Optional on a Store: a third-party store written against the earlier contract
 * lacks it, and the runtime then keeps the recent history only.
 */
export interface CallJournalStore {
  /**
   * A run's calls in the order appended, after `after` (a seq): whole commits while they fit
   * in `limit` calls [1000] (the first commit always); `next`, the seq to page on from.
   */
  list(runId: string, page?: { after?: number; limit?: number }): Promise<{ calls: JournaledCall[]; next?: number }>;
  /** Calls of every run that started in [since, until), newest first, at most `limit`. */
  recent(filter: { since: number; until?: number; limit?: number }): Promise<JournaledCall[]>;
  /** Delete the commits' entries whose calls all started before `before`; returns how many commits. */
  sweep(before: number): Promise<number>;
}

// ---------------------------------------------------------------- mutations (checkpoints, rollback)

export interface MutationRecord {
  /** The call id: one mutation per completed write or destructive call. */
  id: string;
  runId: string;
  /** Order within the run; rollback goes in reverse. */
  seq: number;
  tool: string;
  effect: "write" | "destructive";
  args: unknown;
  output: unknown;
  /** What the tool's checkpoint hook returned before the action (e.g. a backup id). */
  checkpoint?: unknown;
  compensable: boolean;
  status: "done" | "compensating" | "compensated" | "compensation_failed";
  error?: string;
  at: number;
}

export interface MutationStore {
  record(m: MutationRecord): Promise<void>;
  list(runId: string): Promise<MutationRecord[]>;
  /**
   * Move a mutation from one status to another atomically; false when it was not in
   * `from` (another rollback got there first). This is what makes rollback run each
   * compensation exactly once, even when interrupted and restarted.
   */
  transition(
    id: string,
    from: MutationRecord["status"],
    to: MutationRecord["status"],
    error?: string,
  ): Promise<boolean>;
}

// ---------------------------------------------------------------- approvals

export interface ApprovalRecord {
  id: string;
  runId: string;
  tool: string;
  args: unknown;
  /** Canonical fingerprint of tool + args: a repeated call finds its request. */
  fingerprint: string;
  status: "pending" | "approved" | "denied";
  /** Why a person is asked (a rule's reason), when a rule asked. */
  why?: string;
  requestedAt: number;
  decidedAt?: number;
  by?: string;
  reason?: string;
}

export interface ApprovalStore {
  create(a: ApprovalRecord): Promise<void>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  /** The newest request of a run for this fingerprint. */
  find(runId: string, fingerprint: string): Promise<ApprovalRecord | undefined>;
  list(filter?: { status?: ApprovalRecord["status"]; runId?: string }): Promise<ApprovalRecord[]>;
  /** Decide a pending request; returns the record as it is after the call, or undefined if unknown. */
  decide(
    id: string,
    decision: { status: "approved" | "denied"; by: string; reason?: string; at: number },
  ): Promise<ApprovalRecord | undefined>;
}

// ---------------------------------------------------------------- handoffs

export interface HandoffRecord {
  id: string;
  runId: string;
  agent: string;
  reason: string;
  /** What a person needs: facts in play, the last calls, the confidence. */
  context: unknown;
  status: "open" | "closed";
  at: number;
}

export interface HandoffStore {
  create(h: HandoffRecord): Promise<void>;
  list(filter?: { status?: HandoffRecord["status"]; runId?: string }): Promise<HandoffRecord[]>;
}

// ---------------------------------------------------------------- freezes (declared at run time)

/*
 * Semantics (memory.ts is the reference; SQLite and PostgreSQL keep a small table, id
 * unique, the record as JSON): `put` inserts or replaces by id, `lift` deletes by id (or
 * every freeze when no id) and says how many it removed, `list` returns every declared
 * freeze ordered by `at` (expired windows included: the caller compares times with its
 * own clock).
 */

/** A freeze a person declared through the API: every write and destructive call is refused while it holds. */
export interface FreezeRecord {
  id: string;
  reason?: string;
  /** Who declared it. */
  by?: string;
  /**
   * When it starts (epoch ms); absent: at once, on every process whatever its clock says
   * (a freeze declared "now" must not wait for a machine whose clock is behind).
   */
  from?: number;
  /** When it ends (epoch ms); open-ended (until lifted) when absent. */
  to?: number;
  /** When it was declared. */
  at: number;
}

export interface FreezeStore {
  /** Declare a freeze (insert, or replace the one with the same id). */
  put(f: FreezeRecord): Promise<void>;
  /** Lift the freeze `id`, or every freeze when no id is given; returns how many were removed. */
  lift(id?: string): Promise<number>;
  list(): Promise<FreezeRecord[]>;
}

// ---------------------------------------------------------------- alerts

/*
 * Semantics (memory.ts is the reference): at most one open (firing or acknowledged) alert
 * per `key`. `raise` on a key with an open alert updates it (count + 1, lastAt, summary,
 * details) and says `fresh: false`, so sinks are told once; otherwise it inserts a new
 * firing alert (`fresh: true`), also after an earlier one with that key was resolved.
 * An acknowledged alert raised again stays acknowledged (a person is already on it).
 */

export type AlertKind = "drift" | "breaker_open" | "run_halted" | "run_handed_off" | "failure_spike" | "shadow" | (string & {});
export type AlertState = "firing" | "acknowledged" | "resolved";

export interface AlertRecord {
  id: string;
  /** What makes two alerts the same alert (e.g. "breaker_open:payments"). */
  key: string;
  kind: AlertKind;
  severity: "warning" | "critical";
  /** One line for a person. */
  summary: string;
  /** What a person needs to judge it (JSON). */
  details?: unknown;
  agent?: string;
  runId?: string;
  tool?: string;
  state: AlertState;
  firstAt: number;
  lastAt: number;
  /** How many times it was raised while open. */
  count: number;
  resolvedAt?: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
}

export type NewAlert = Pick<AlertRecord, "id" | "key" | "kind" | "severity" | "summary"> &
  Partial<Pick<AlertRecord, "details" | "agent" | "runId" | "tool">> & { at: number };

export interface AlertStore {
  raise(a: NewAlert): Promise<{ alert: AlertRecord; fresh: boolean }>;
  /** Resolve the open alert with this key; undefined when none is open. */
  resolve(key: string, at: number): Promise<AlertRecord | undefined>;
  /** Acknowledge a firing alert; an alert already acknowledged or resolved is returned as it is; undefined if unknown. */
  acknowledge(id: string, by: string, at: number): Promise<AlertRecord | undefined>;
  get(id: string): Promise<AlertRecord | undefined>;
  /** Newest first. */
  list(filter?: { state?: AlertState; limit?: number }): Promise<AlertRecord[]>;
}

// ---------------------------------------------------------------- monitors

/*
 * A monitor's state (a baseline and its current window) as one JSON document, updated by
 * compare-and-set on a version, so that every process feeds one monitor: `put` with the
 * version it read (0: not there yet) succeeds only if nobody wrote in between.
 */
export interface MonitorRecord {
  key: string;
  version: number;
  data: unknown;
  updatedAt: number;
}

export interface MonitorStore {
  get(key: string): Promise<MonitorRecord | undefined>;
  /** Write `data` as version `expected + 1` if the stored version is `expected`; false if another writer won. */
  put(key: string, expected: number, data: unknown, at: number): Promise<boolean>;
  list(): Promise<MonitorRecord[]>;
}

// ---------------------------------------------------------------- shadow decisions

/*
 * Semantics (memory in shadow-decisions.ts is the reference): `record` appends, `list`
 * returns the newest first (by `at`, then the order recorded), at or after `since`, at most
 * `limit` of them.
 */

/** A refusal that shadow mode recorded instead of making (see shadow.ts). */
export interface ShadowDecisionRecord {
  runId: string;
  agent: string;
  callId: string;
  tool: string;
  /** The call's arguments, redacted as the ledger's are. */
  args: unknown;
  /** The stage that would have refused the call. */
  stage: string;
  kind: string;
  /** The message the model would have got. */
  message: string;
  at: number;
}

export interface ShadowDecisionStore {
  record(decisions: ShadowDecisionRecord[]): Promise<void>;
  list(filter?: { since?: number; runId?: string; limit?: number }): Promise<ShadowDecisionRecord[]>;
}

// ---------------------------------------------------------------- the store

export interface Store {
  readonly kind: "memory" | "sqlite" | "postgres" | (string & {});
  readonly idempotency: IdempotencyStore;
  readonly breakers: BreakerStore;
  readonly runs: RunStore;
  readonly mutations: MutationStore;
  readonly approvals: ApprovalStore;
  readonly handoffs: HandoffStore;
  /** Freezes declared at run time, seen by every process on the store. */
  readonly freezes: FreezeStore;
  /** Alerts: deduplicated by key, with their state (see telemetry/alerts.ts). */
  readonly alerts: AlertStore;
  /** Monitors' baselines and windows (see telemetry/monitors.ts). */
  readonly monitors: MonitorStore;
  /** What shadow mode would have refused (`enforce: false`). */
  readonly shadow: ShadowDecisionStore;
  /** Every call of every run, for timelines and charts (optional: see CallJournalStore). */
  readonly callJournal?: CallJournalStore;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- failures

/**
 * The store could not do what was asked (database unreachable or restarted, SQLite busy or
 * locked beyond its busy timeout, disk full...). Every durable store throws only this, with
 * the driver's error as `cause`, so that the runtime can fail closed on one class.
 */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
