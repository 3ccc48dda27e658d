/**
 * A run's call journal on its way to the store: one entry per call (its outcome, the stage
 * that refused it and why, latency, attempts, the confidence after it), held here until the
 * run's next commit carries it (run-state.ts), so the journal costs no write of its own.
 * Bounded: if the store stays unreachable, the oldest entries held are dropped.
 */
import type { Outcome } from "./failure.js";
import { redactText } from "./redact.js";
import type { CallJournalEntry } from "./store/types.js";

/** Entries held for a run while its commits fail, at most. */
export const HELD = 5_000;
/** Entries held that the next commit writes (see `full`). */
const BATCH = 256;
/** A failure's message is cut to this many characters in the journal. */
const MESSAGE_CHARS = 300;

/** What the journal needs of a call (see call.ts `Call`). */
export interface JournaledCallInput {
  callId: string;
  toolCallId?: string | undefined;
  tool: { name: string; effect: CallJournalEntry["effect"] };
  startedAt: number;
  attempts: number;
}

export class CallJournal {
  private held: CallJournalEntry[] = [];
  constructor(private readonly runId: string) {}

  /** A call ended with `outcome` at `at`, the run's confidence then being `confidence`. */
  add(call: JournaledCallInput, outcome: Outcome<unknown>, at: number, confidence: number): void {
    const e: CallJournalEntry = {
      runId: this.runId,
      callId: call.callId,
      tool: call.tool.name,
      effect: call.tool.effect,
      ok: outcome.ok,
      latencyMs: Math.max(0, at - call.startedAt),
      attempts: call.attempts,
      at: call.startedAt,
      confidence,
    };
    if (call.toolCallId !== undefined) e.toolCallId = call.toolCallId;
    if (outcome.ok && outcome.replayed) e.replayed = true;
    if (!outcome.ok) {
      const f = outcome.failure;
      const message = redactText(f.message);
      e.failure = { kind: f.kind, message: message.length > MESSAGE_CHARS ? `${message.slice(0, MESSAGE_CHARS)}…` : message };
      if (f.stage !== undefined) e.failure.stage = f.stage;
    }
    this.held.push(e);
    // The store has been unreachable for long: the oldest entry goes, so memory stays bounded.
    if (this.held.length > HELD) this.held.shift();
  }

  /**
   * The call's settlement left the run at `confidence` (it lowers it, or not). Its entry was
   * added just before (run.ts settles a call right after recording it): looked for from the end.
   */
  settled(callId: string, confidence: number): void {
    for (let i = this.held.length - 1; i >= 0; i--)
      if (this.held[i]!.callId === callId) {
        this.held[i]!.confidence = confidence;
        return;
      }
  }

  get hasUnsaved(): boolean {
    return this.held.length > 0;
  }

  /**
   * Enough entries held to be written with the next commit, due or not: a run that calls
   * faster than HELD per READ_FRESH_MS (see run-state.ts) would drop its oldest.
   */
  get full(): boolean {
    return this.held.length >= BATCH;
  }

  /** The entries held now, for a commit (the commit says which were written: `committed`). */
  unsaved(): CallJournalEntry[] {
    return this.held.slice();
  }

  /** These entries are in the store now. */
  committed(entries: readonly CallJournalEntry[]): void {
    if (entries.length === 0) return;
    const done = new Set(entries);
    this.held = this.held.filter((e) => !done.has(e));
  }
}
