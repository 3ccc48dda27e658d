/**
 * The run's state machine, kept in the store so that a run's guards hold wherever its next
 * call comes from: another request, another process, a restart. Its rules are in
 * run-record.ts; confidence only goes down, and below the policy's thresholds narrows the
 * run to reading or hands it to a person.
 *
 * Every change is a pure function of the stored record, applied by one path (`apply`):
 * changes made while a commit is under way are queued and committed together, and a
 * commit is a compare-and-set on the record's version (see RunStore). When another process
 * got there first, the record is read again and every queued change is worked out again
 * on it, so a budget is never overspent and a halt never undone by a concurrent save.
 * Facts offered and calls made here (the recent history, the call journal) ride along with
 * the next commit.
 */
import { sharedSignal } from "./clock.js";
import type { Eventually } from "./eventually.js";
import type { Failure, Outcome } from "./failure.js";
import type { RedactHook } from "./redact.js";
import { RecentHistory, type HistoryData } from "./decide/handoff.js";
import { CallJournal, type JournaledCallInput } from "./call-journal.js";
import { FactLedger, type LedgerData } from "./decide/ledger.js";
import type { Policy } from "./policy.js";
import type { HandoffRecord, RunMode, RunRecord, Store } from "./store/types.js";
import { confidenceLowered, freshRun, handedOff, passGate, refused, released, reserved, reviewed, settled, transition, type Reservation, type Settled } from "./run-record.js";

/**
 * A read is admitted on the record this process last saw of the run for this long after it
 * saw it, with its step counted here and written with the run's next commit (or at the
 * latest this long after). A read changes nothing, so it pays no store round trip of its
 * own; a change always asks the store. So a stop or a halt made elsewhere reaches this
 * process's reads within this long, and its changes at once.
 */
export const READ_FRESH_MS = 1_000;
/**
 * Reads counted here before the next one waits for the store (bounds how far processes
 * reading one run at once can pass its step limit). At half of it they are written in the
 * background, so that a run that only reads never waits for the store.
 */
export const READS_PER_COMMIT = 32;

/** What `apply` does with one change: the record after it (or the same one) and what to tell the caller. */
export type Change<T> = (r: RunRecord) => { next: RunRecord; result: T };

interface Queued {
  change: Change<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface RunStateOptions {
  runId: string;
  agent: string;
  policy: Policy;
  /** The store (a function: the runtime's store opens after the run is made). */
  store: () => Store;
  /** Resolves once the store is open (rejects if it cannot be). */
  storeOpen?: () => Promise<void>;
  /** Aborted when the runtime closes: the run's work in this process is cancelled, the run itself goes on. */
  closing?: AbortSignal;
  now: () => number;
  /** False in shadow mode: refusals are recorded on the call, not made (see shadow.ts). */
  enforce?: boolean;
  /** Told when the run's mode changes (telemetry). */
  onMode?: (mode: RunMode, reason: string | undefined) => void;
  /** Where the run puts itself while it holds reads not yet in the store: the runtime's close writes them. */
  unsaved?: Set<RunState>;
}

/**
 * The run's state as the stages see it (read-only views of the record last seen) and the
 * changes the run makes to it, each persisted through `apply`.
 */
export class RunState {
  readonly runId: string;
  readonly agent: string;
  policy: Policy;
  /** The facts ledger, shared with the store through the record. */
  ledger = new FactLedger();
  readonly history = new RecentHistory();
  /** Every call's entry, on its way to the store's call journal with the next commit. */
  readonly journal: CallJournal;
  /** Approval requests that have already passed the verification gate once (approval stage). */
  approvalsUsed?: Set<string>;
  /** False in shadow mode (see shadow.ts). */
  readonly enforce: boolean;
  private rec: RunRecord;
  /** Aborted when the run is stopped: cancels backoff sleeps and in-flight executions. */
  private readonly stopper = new AbortController();
  private cancel: AbortSignal | undefined;
  private readonly queue: Queued[] = [];
  private committing = false;
  /** The record's creation or resumption in the store; nothing is committed before it. */
  private opened: Promise<void> | undefined;
  /** Steps of reads admitted here and not yet in the store (see READ_FRESH_MS). */
  private readSteps = 0;
  /** When this process last saw the run's record in the store. */
  private seenAt = -Infinity;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the recent history and the journal were last written: at most every READ_FRESH_MS (see commitBatch). */
  private historyAt = -Infinity;
  /** The next commit writes everything this process holds (a flush). */
  private writeAll = false;

  constructor(private readonly o: RunStateOptions) {
    this.runId = o.runId;
    this.agent = o.agent;
    this.policy = o.policy;
    this.enforce = o.enforce ?? true;
    this.journal = new CallJournal(o.runId);
    this.rec = freshRun(o.runId, o.agent, o.now());
  }

  /** The record this process last saw (immutable). */
  get record(): RunRecord {
    return this.rec;
  }
  get mode(): RunMode {
    return this.rec.mode;
  }
  get reason(): string | undefined {
    return this.rec.reason;
  }
  get steps(): number {
    return this.rec.steps + this.readSteps;
  }
  get ended(): boolean {
    return this.rec.status === "ended";
  }
  get startedAt(): number {
    return this.rec.startedAt;
  }
  /** When the run's deadline passes (its first start + policy.deadlineMs), or Infinity. */
  get deadlineAt(): number {
    return this.rec.startedAt + (this.policy.deadlineMs ?? Infinity);
  }
  get destructiveDone(): number {
    return this.rec.destructive.used;
  }
  get destructivePending(): number {
    return this.rec.destructive.inFlight.length;
  }
  get unverifiedDepth(): number {
    return this.rec.unverifiedDepth;
  }
  get consecutiveFailures(): number {
    return this.rec.failures.length;
  }
  get confidence(): number {
    return this.rec.confidence;
  }
  get handoff(): HandoffRecord | undefined {
    return this.rec.handoff;
  }
  get stopSignal(): AbortSignal {
    return this.stopper.signal;
  }
  /** Aborted when the runtime closes. */
  get closing(): AbortSignal | undefined {
    return this.o.closing;
  }
  /** What cancels the run's work here (executions, backoff, waits): a stop, or the runtime closing. */
  get cancelSignal(): AbortSignal {
    return (this.cancel ??= sharedSignal(this.stopper.signal, this.o.closing));
  }

  /**
   * Start the run in the store, or resume it: the stored record becomes this state. Refuses
   * (with an Error) a run that has ended, or one started by another agent.
   */
  open(): Promise<void> {
    return (this.opened ??= (async () => {
      await this.o.storeOpen?.();
      const { created, record } = await this.o.store().runs.create(this.rec);
      if (!created) {
        if (record.agent !== this.agent)
          throw new Error(`run ${this.runId} belongs to agent "${record.agent}", not "${this.agent}": start a new run, or resume it as "${record.agent}"`);
        if (record.status === "ended") throw new Error(`run ${this.runId} has ended; a run is not started again once it has ended: start a new run`);
      }
      this.adopt(record);
    })());
  }

  /**
   * Admission's reservation: `check` (the run's limits) is asked on the freshest record; if
   * it admits, a step (and for a destructive call, a slot of the budget) is reserved; if
   * it refuses, the refusal is counted toward the chain breaker and a spent destructive
   * budget narrows the run to reading. A stop requested elsewhere halts the run first.
   */
  reserve(callId: string, tool: { name: string; effect: string }, leaseMs: number, check: (r: RunRecord, readsHere?: number) => Failure | undefined): Eventually<Reservation> {
    // A read on a record seen lately is admitted here, at once, its step written later (`check`
    // is told of the reads counted here); a refusal (counted) and all else go to the store.
    if (tool.effect === "read" && this.readSteps < READS_PER_COMMIT && !this.rec.stopRequested && this.o.now() - this.seenAt < READ_FRESH_MS) {
      if (!check(this.rec, this.readSteps)) {
        const step = this.rec.steps + this.readSteps + 1;
        this.countRead();
        return { step };
      }
    }
    return this.apply((r) => {
      const now = this.o.now();
      return reserved(r, this.policy, { callId, tool: tool.name, effect: tool.effect }, now + leaseMs, now, check);
    });
  }

  /** A call refused before it was admitted (by the run's limits or elsewhere in admission). */
  refuse(tool: string, failure: Failure): Promise<void> {
    return this.apply((r) => ({ next: refused(r, this.policy, tool, failure), result: undefined }));
  }

  /** A reservation given back: the call was a replay, or was refused after admission by what the store said. */
  release(callId: string, destructive: boolean): Promise<void> {
    return this.apply((r) => ({ next: released(r, callId, destructive), result: undefined }));
  }

  /**
   * A call's outcome becomes state (see `settled`), and confidence is lowered by `penalty`
   * (narrowing the run to reading, or handing it off, below the policy's thresholds).
   * Returns the handoff record if this settlement handed the run off.
   */
  settle(call: Settled, failure: Failure | undefined, penalty: { amount: number; why: string } | undefined, newId: () => string): Eventually<HandoffRecord | undefined> {
    return this.applyEventually((r0) => {
      const r = settled(r0, this.policy, call, failure, this.o.now());
      const after = penalty ? this.lowered(r, penalty.amount, `${call.tool}: ${penalty.why}`, newId) : { next: r, result: undefined };
      this.journal.settled(call.callId, after.next.confidence);
      return after;
    });
  }

  /** Lower confidence by `amount` (never raises it); below the thresholds, narrow to reading or hand off. */
  lowerConfidence(amount: number, why: string, newId: () => string): Promise<HandoffRecord | undefined> {
    return this.apply((r) => this.lowered(r, amount, why, newId));
  }

  private lowered(r0: RunRecord, amount: number, why: string, newId: () => string): { next: RunRecord; result: HandoffRecord | undefined } {
    const { next, handOff } = confidenceLowered(r0, this.policy, amount, why);
    return handOff ? this.handedOff(next, handOff, newId) : { next, result: undefined };
  }

  /** Hand the run to a person (once: a run handed off keeps its first record). A halted run stays halted. */
  handOff(reason: string, newId: () => string): Promise<{ record: HandoffRecord; made: boolean }> {
    return this.apply<{ record: HandoffRecord; made: boolean }>((r) => {
      if (r.handoff) return { next: r, result: { record: r.handoff, made: false } };
      const { next, result } = this.handedOff(r, reason, newId);
      return { next, result: { record: result, made: true } };
    });
  }

  private handedOff(r: RunRecord, reason: string, newId: () => string): { next: RunRecord; result: HandoffRecord } {
    return handedOff(r, reason, { id: newId(), at: this.o.now(), ledger: this.ledger, history: this.history });
  }

  /** A verification gate passed outside a tool call (an approval, a verified decision, a person). */
  passGate(reason: string): Promise<void> {
    return this.apply((r) => ({ next: passGate(r, reason, this.o.now()), result: undefined }));
  }

  /** Move to `to` with `reason`; never widens (halted beats handed off beats read-only). */
  transition(to: RunMode, reason: string): Promise<void> {
    return this.apply((r) => ({ next: transition(r, to, reason), result: undefined }));
  }

  /** A person reviewed the run's changes (see `reviewed`). */
  review(by: string, note?: string): Promise<RunRecord> {
    return this.apply((r) => {
      const next = reviewed(r, by, note, this.o.now());
      return { next, result: next };
    });
  }

  /** A person's stop, in this process: calls in flight are cancelled through their signal. */
  stop(reason: string): Promise<void> {
    if (!this.stopper.signal.aborted) this.stopper.abort(new Error(`run stopped: ${reason}`));
    return this.transition("halted", `stopped by a person: ${reason}`);
  }

  end(): Promise<void> {
    this.writeAll = true;
    return this.apply((r) => ({ next: r.status === "ended" ? r : { ...r, status: "ended", endedAt: this.o.now() }, result: undefined }));
  }

  /** Commit everything unsaved (facts, calls, the steps of reads) now. */
  flush(): Promise<void> {
    this.writeAll = true;
    return this.apply((r) => ({ next: this.readSteps > 0 || this.history.hasUnsaved || this.journal.hasUnsaved ? { ...r } : r, result: undefined }));
  }

  /**
   * A call of this run ended with `outcome`: into the call journal, and (unless a replay)
   * its recent history, both written with a commit within READ_FRESH_MS.
   */
  called(call: JournaledCallInput & { tool: { spec: { redact?: RedactHook | undefined } }; args: unknown }, outcome: Outcome<unknown>, at: number): void {
    if (!outcome.replayed) this.history.call({ callId: call.callId, tool: call.tool.name, effect: call.tool.effect, args: call.args, redact: call.tool.spec.redact }, outcome, at);
    this.journal.add(call, outcome, at, this.confidence);
    this.holdUnsaved();
  }

  private countRead(): void {
    // The steps only: the history and the journal go when due (see commitBatch), not a flush.
    if (++this.readSteps === READS_PER_COMMIT / 2 && !this.committing) void this.apply((r) => ({ next: this.readSteps > 0 ? { ...r } : r, result: undefined })).catch(() => {});
    this.holdUnsaved();
  }

  /**
   * This process holds something of the run not yet in the store (steps of reads, recent
   * calls): written with the next commit, or by a timer READ_FRESH_MS later if none comes,
   * or by the runtime's close. A flush that fails leaves it for the next commit.
   */
  private holdUnsaved(): void {
    if (this.flushTimer !== undefined) return;
    this.o.unsaved?.add(this);
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush().catch(() => {});
    }, READ_FRESH_MS);
    this.flushTimer.unref?.();
  }

  /**
   * The one path by which the run's state changes: `change` is applied to the freshest
   * record and committed with every change queued beside it (and the unsaved facts and
   * calls); if another process committed first, all of them are worked out again on what
   * it committed. Resolves with the change's result once committed; rejects if the store
   * cannot commit (the change is then not made), or if `change` throws.
   */
  apply<T>(change: Change<T>): Promise<T> {
    return new Promise<T>((resolve) => resolve(this.applyEventually(change)));
  }

  /** `apply`, answered synchronously when the change is (see below); throws if `change` does then. */
  applyEventually<T>(change: Change<T>): Eventually<T> {
    // A change that changes nothing, with nothing else to write and nothing under way, is
    // answered at once (a successful read, a verified write on a clean run). Asked of the
    // record without the reads counted here: no no-op turns on the step count alone.
    if (!this.committing && this.seenAt !== -Infinity && this.ledger.unsaved.length === 0) {
      const { next, result } = change(this.rec);
      if (next === this.rec) return result;
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ change: change as Change<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.committing) void this.commitQueued();
    });
  }

  private async commitQueued(): Promise<void> {
    this.committing = true;
    try {
      try {
        await this.open();
      } catch (e) {
        for (const q of this.queue.splice(0)) q.reject(e);
        return;
      }
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0);
        // Whatever goes wrong, every change queued is answered: none is left waiting.
        await this.commitBatch(batch).catch((e) => batch.forEach((q) => q.reject(e)));
      }
    } finally {
      this.committing = false;
    }
  }

  private async commitBatch(batch: Queued[]): Promise<void> {
    for (;;) {
      const prev = this.rec;
      // The steps of reads admitted here ride with this commit; changes see them counted.
      const reads = this.readSteps;
      const base = this.withReads();
      let r = base;
      const results: { ok: boolean; v: unknown }[] = [];
      for (const q of batch) {
        try {
          const { next, result } = q.change(r);
          r = next;
          results.push({ ok: true, v: result });
        } catch (e) {
          results.push({ ok: false, v: e });
        }
      }
      // Copies: calls and facts added while the commit is under way go with the next one.
      const facts = this.ledger.unsaved.slice();
      const calls = { calls: this.history.unsaved.calls.slice(), decisions: this.history.unsaved.decisions.slice() };
      const unsavedFacts = facts.length > 0;
      // Calls made ride with a commit that has a reason to happen; facts are one.
      if (r === base && !unsavedFacts) return settle(batch, results);
      const now = this.o.now();
      const next: RunRecord = { ...r, version: prev.version + 1, updatedAt: now };
      if (unsavedFacts) next.facts = FactLedger.merge(r.facts as LedgerData | undefined, facts);
      // The recent history (for a handoff made elsewhere) is rewritten at most every
      // READ_FRESH_MS, not with every commit: it is the largest part of the record. The
      // journal's entries go with it, in the same transaction, or sooner (see CallJournal.full).
      const writeAll = this.writeAll;
      const due = writeAll || now - this.historyAt >= READ_FRESH_MS;
      const withHistory = (calls.calls.length > 0 || calls.decisions.length > 0) && due;
      if (withHistory) next.history = this.history.mergedInto(r.history as HistoryData | undefined, calls);
      const entries = due || this.journal.full ? this.journal.unsaved() : [];
      let res;
      try {
        res = await this.o.store().runs.commit(prev, next, entries);
      } catch (e) {
        for (const q of batch) q.reject(e);
        return;
      }
      if (res.committed) {
        if (withHistory) this.history.committed(calls);
        if (due && (withHistory || entries.length > 0)) this.historyAt = now;
        this.journal.committed(entries);
        if (writeAll) this.writeAll = false;
        this.readsWritten(reads);
        this.ledger.unsaved = this.ledger.unsaved.slice(facts.length);
        this.adopt(next, "facts");
        return settle(batch, results);
      }
      if (!res.current) {
        const gone = new Error(`run ${this.runId} is no longer in the store`);
        for (const q of batch) q.reject(gone);
        return;
      }
      this.adopt(res.current);
    }
  }

  /** The record last seen, with the steps of the reads counted here. */
  private withReads(): RunRecord {
    return this.readSteps > 0 ? { ...this.rec, steps: this.rec.steps + this.readSteps } : this.rec;
  }

  private readsWritten(n: number): void {
    this.readSteps -= n;
    if (this.readSteps > 0 || this.history.hasUnsaved || this.journal.hasUnsaved) return this.holdUnsaved();
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.o.unsaved?.delete(this);
  }

  /** Make `r` (from the store) this process's view; `keep` skips reloading a part this process just wrote. */
  private adopt(r: RunRecord, keep?: "facts"): void {
    const before = this.rec;
    this.rec = r;
    this.seenAt = this.o.now();
    if (keep !== "facts" && (r.facts !== before.facts || before.version === 0)) this.ledger.load(r.facts as LedgerData | undefined);
    if (r.history !== before.history) this.history.load(r.history as HistoryData | undefined);
    if (r.stopRequested && !this.stopper.signal.aborted) this.stopper.abort(new Error(`run stopped: ${r.stopRequested.reason}`));
    if (r.mode !== before.mode && r.mode !== "normal") this.o.onMode?.(r.mode, r.reason);
  }
}

function settle(batch: Queued[], results: { ok: boolean; v: unknown }[]) {
  batch.forEach((q, i) => (results[i]!.ok ? q.resolve(results[i]!.v) : q.reject(results[i]!.v)));
}
