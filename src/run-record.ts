/**
 * A run's record and the rules by which it changes: pure functions from one record to the
 * next, so that the same rule gives the same answer whichever process applies it, and can
 * be applied again on a newer record when another process committed first (run-state.ts).
 * The mode only narrows (normal, then read-only, then handed off, then halted) unless a
 * person acts; steps and the destructive budget are reserved before a call and settled
 * after it; the chain breaker counts failures in a row; the verification gate counts
 * unverified changes.
 */
import type { Failure, FailureKind } from "./failure.js";
import { readBack, unverified, type ReadBack } from "./decide/gate.js";
import { levelOf, lower } from "./decide/confidence.js";
import type { Policy } from "./policy.js";
import type { HandoffRecord, RunMode, RunRecord } from "./store/types.js";
import { handoffRecord, type RecentHistory } from "./decide/handoff.js";
import { FactLedger, type LedgerData } from "./decide/ledger.js";

/** How far each mode narrows the run: a transition never goes to a lower rank. */
const RANK: Record<RunMode, number> = { normal: 0, read_only: 1, handed_off: 2, halted: 3 };
/** Gates and reviews kept in the record. */
const KEPT = 10;

/** A run's record at its start. */
export function freshRun(runId: string, agent: string, now: number): RunRecord {
  return {
    runId,
    agent,
    status: "running",
    mode: "normal",
    steps: 0,
    startedAt: now,
    updatedAt: now,
    version: 0,
    destructive: { used: 0, inFlight: [] },
    failures: [],
    unverifiedDepth: 0,
    gates: [],
    confidence: 1,
    reviews: [],
  };
}

/** `r` moved to `to`, unless it is already there or narrower (a transition never widens). */
export function transition(r: RunRecord, to: RunMode, reason: string, narrowedBy?: RunRecord["narrowedBy"]): RunRecord {
  if (RANK[to] <= RANK[r.mode]) return r;
  const next: RunRecord = { ...r, mode: to, reason };
  if (narrowedBy) next.narrowedBy = narrowedBy;
  else delete next.narrowedBy;
  return next;
}

/** `r` after a verification gate passed: the unverified depth back to 0, the gate recorded. */
export function passGate(r: RunRecord, reason: string, at: number): RunRecord {
  return { ...r, unverifiedDepth: 0, gates: [...r.gates, { reason, at }].slice(-KEPT) };
}

/** `r` after a failure: counted toward the chain breaker if the policy counts it, halting the run at the limit. */
export function countFailure(r: RunRecord, policy: Policy, tool: string, kind: FailureKind): RunRecord {
  if (!policy.countsTowardChain(kind)) return r;
  const failures = [...r.failures, { tool, kind }].slice(-policy.maxConsecutiveFailures);
  const next = { ...r, failures };
  if (failures.length < policy.maxConsecutiveFailures) return next;
  return transition(next, "halted", `the last ${failures.length} calls failed (${failures.map((f) => `${f.tool}: ${f.kind}`).join(", ")})`);
}

/**
 * `r` with the destructive slots whose calls outlived their lease counted as used: the
 * process that held them died, maybe after the action (counting it is the safe side).
 */
export function lapse(r: RunRecord, now: number): RunRecord {
  const d = r.destructive;
  if (d.inFlight.every((s) => s.until > now)) return r;
  const live = d.inFlight.filter((s) => s.until > now);
  return { ...r, destructive: { used: d.used + d.inFlight.length - live.length, inFlight: live } };
}

/** Admission's reservation: the step reserved, or the refusal (counted). */
export type Reservation = { refused: Failure } | { step: number };

/**
 * `r` after admission said yes (a step reserved, and for a destructive call a slot of the
 * budget held until `until`) or no (the refusal counted: see `refused`). A stop requested
 * elsewhere halts the run first.
 */
export function reserved(r0: RunRecord, policy: Policy, call: { callId: string; tool: string; effect: string }, until: number, now: number, check: (r: RunRecord) => Failure | undefined): { next: RunRecord; result: Reservation } {
  let r = lapse(r0, now);
  if (r.stopRequested && r.mode !== "halted") r = transition(r, "halted", `stopped by a person: ${r.stopRequested.reason}`);
  const refusal = check(r);
  if (refusal) return { next: refused(r, policy, call.tool, refusal), result: { refused: refusal } };
  const next: RunRecord = { ...r, steps: r.steps + 1 };
  if (call.effect === "destructive") next.destructive = { used: r.destructive.used, inFlight: [...r.destructive.inFlight, { callId: call.callId, until }] };
  return { next, result: { step: next.steps } };
}

/** `r` after a call was refused at admission: counted toward the chain breaker; a spent destructive budget narrows the run to reading. */
export function refused(r: RunRecord, policy: Policy, tool: string, failure: Failure): RunRecord {
  if (failure.kind === "destructive_budget_exceeded")
    // Graceful degradation: the run may still read and answer, but makes no more changes until a person reviews them.
    r = transition(r, "read_only", `its destructive budget (${policy.destructive.maxPerRun}) is used up; a person must review the changes made before any more are`, "budget");
  return countFailure(r, policy, tool, failure.kind);
}

/** `r` with a reservation given back (the call was a replay, or refused after admission by what the store said). */
export function released(r: RunRecord, callId: string, destructive: boolean): RunRecord {
  const next: RunRecord = { ...r, steps: Math.max(0, r.steps - 1) };
  if (destructive) next.destructive = { used: r.destructive.used, inFlight: r.destructive.inFlight.filter((s) => s.callId !== callId) };
  return next;
}

/** What the run settles of a call's outcome (see `settled`). */
export interface Settled {
  callId: string;
  tool: string;
  effect: string;
  executed: boolean;
  verified?: boolean;
  /** A change's arguments, as stored: remembered while it is unverified. */
  args?: unknown;
  /** A read's: which unverified changes it reads back. */
  readBack?: ReadBack;
}

/**
 * `r` after a call's outcome: its destructive slot settled (used if the tool ran), the
 * chain breaker and the verification streak moved (an unverified change remembered; a
 * read that verifies changes reads them back). Confidence is the caller's (run-state.ts).
 */
export function settled(r0: RunRecord, policy: Policy, call: Settled, failure: Failure | undefined, now: number): RunRecord {
  let r = r0;
  if (call.effect === "destructive") {
    const inFlight = r.destructive.inFlight.filter((s) => s.callId !== call.callId);
    const counted = inFlight.length < r.destructive.inFlight.length || call.executed;
    r = { ...r, destructive: { used: r.destructive.used + (call.executed && counted ? 1 : 0), inFlight } };
  }
  if (failure) return countFailure(r, policy, call.tool, failure.kind);
  if (r.failures.length > 0) r = { ...r, failures: [] };
  // A read-back is a gate passed; recorded when it ends a streak of unverified changes.
  if (call.effect !== "read") return !call.verified ? unverified(r, { tool: call.tool, args: call.args }) : r.unverifiedDepth > 0 ? passGate(r, `${call.tool} was read back`, now) : r;
  if (!call.readBack) return r;
  const read = readBack(r, call.readBack);
  return read.done > 0 ? { ...read.next, gates: [...r.gates, { reason: `${call.tool} read back ${read.done} change(s)`, at: now }].slice(-KEPT) } : r;
}

/**
 * `r` after a person reviewed its changes: recorded, the destructive budget renewed, the
 * verification gate passed (a person who checked the changes is a gate too), and a run
 * narrowed to reading only by its spent budget may change things again.
 */
export function reviewed(r: RunRecord, by: string, note: string | undefined, at: number): RunRecord {
  let next: RunRecord = {
    ...passGate(r, `${by} reviewed the changes${note !== undefined ? `: ${note}` : ""}`, at),
    destructive: { used: 0, inFlight: r.destructive.inFlight },
    reviews: [...r.reviews, { by, at, ...(note !== undefined ? { note } : {}) }].slice(-KEPT),
  };
  if (next.mode === "read_only" && next.narrowedBy === "budget") {
    next = { ...next, mode: "normal" };
    delete next.reason;
    delete next.narrowedBy;
  }
  return next;
}

/**
 * Confidence lowered by `amount` (never raised) after `why`: below the policy's thresholds
 * the run narrows to reading, or is to be handed off (`handOff`: the reason; the caller
 * makes the handoff record). A run handed off or halted only records the lower number.
 */
export function confidenceLowered(r0: RunRecord, policy: Policy, amount: number, why: string): { next: RunRecord; handOff?: string } {
  const confidence = lower(r0.confidence, amount);
  const r = confidence === r0.confidence ? r0 : { ...r0, confidence };
  if (r.mode === "handed_off" || r.mode === "halted" || r.handoff) return { next: r };
  const c = policy.confidence;
  const level = levelOf(confidence, c);
  if (level === "handoff") return { next: r, handOff: `confidence ${confidence} fell below ${c.handoffBelow} after ${why}` };
  if (level === "read_only") return { next: transition(r, "read_only", `confidence ${confidence} fell below ${c.readOnlyBelow} after ${why}`, "confidence") };
  return { next: r };
}

/** `r` handed to a person for `reason`: handed-off mode, with its handoff record (the facts as this process holds them). */
export function handedOff(r: RunRecord, reason: string, o: { id: string; at: number; ledger: FactLedger; history: RecentHistory }): { next: RunRecord; result: HandoffRecord } {
  const facts = FactLedger.from(FactLedger.merge(r.facts as LedgerData | undefined, o.ledger.unsaved)).snapshot();
  const rec = handoffRecord({ id: o.id, runId: r.runId, agent: r.agent, reason, at: o.at, confidence: r.confidence, facts, history: o.history });
  return { next: { ...transition(r, "handed_off", reason), handoff: rec }, result: rec };
}
