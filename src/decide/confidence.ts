/**
 * Confidence: how far a run's own account of the world can be trusted, from 1 (nothing
 * has gone wrong) down to 0. Contradictions, rejected decisions, verifier dissent,
 * unverified writes and failures lower it; nothing raises it within a run, so a run that
 * was caught out once does not earn back the right to act by being right later.
 * Below `readOnlyBelow` the run may only read; below `handoffBelow` it hands off.
 */
import { KINDS, type Outcome } from "../failure.js";
import type { Effect } from "../tool.js";

/** How much each kind of event lowers confidence. */
export interface ConfidencePenalties {
  /** Sources of equal authority disagree about a fact the run read. */
  contradiction: number;
  /** A decision the verifiers rejected. */
  decisionRejected: number;
  /** Each verifier that disagreed with a decision (whatever the verdict). */
  verifierDissent: number;
  /** A write that reported success but could not be confirmed (write_unverified). */
  writeUnverified: number;
  /** A write or destructive call that succeeded with no read-back to confirm it. */
  unverifiedWrite: number;
  /** A stale fact was offered. */
  staleData: number;
  /** Any other failure that cannot succeed by repeating it (a wrong argument, a refused action, an implausible response). */
  failure: number;
  /**
   * A failure that may succeed later (a timeout, an open breaker): it is about the
   * tools' availability, not about whether the run's picture of the world is right [0].
   */
  transientFailure: number;
}

export interface ConfidencePolicy {
  /** Below this, mutations are refused (read_only) [0.7]. */
  readOnlyBelow: number;
  /** Below this, the run hands off to a person [0.4]. */
  handoffBelow: number;
  penalties: ConfidencePenalties;
}

/**
 * The defaults put one contradiction straight into a handoff (1 − 0.65 < 0.4): the run
 * cannot settle it itself. One rejected decision narrows the run to reading (0.65 < 0.7);
 * a second hands it off.
 */
export const confidenceDefaults: ConfidencePolicy = {
  readOnlyBelow: 0.7,
  handoffBelow: 0.4,
  penalties: {
    contradiction: 0.65,
    decisionRejected: 0.35,
    verifierDissent: 0.1,
    writeUnverified: 0.2,
    unverifiedWrite: 0.05,
    staleData: 0.05,
    failure: 0.05,
    transientFailure: 0,
  },
};

/** What a call's outcome costs in confidence, and why. */
export function callPenalty(
  effect: Effect,
  outcome: Outcome<unknown>,
  verified: boolean | undefined,
  p: ConfidencePenalties,
): { amount: number; reason: string } | undefined {
  if (outcome.ok) {
    if (effect !== "read" && verified !== true && p.unverifiedWrite > 0) return { amount: p.unverifiedWrite, reason: "a change was made that could not be read back" };
    return undefined;
  }
  const { kind, message, retryable } = outcome.failure;
  const treated = KINDS[kind];
  if (treated.neutral) return undefined;
  const amount = treated.penalty !== "by-retryable" ? p[treated.penalty] : retryable ? p.transientFailure : p.failure;
  return amount > 0 ? { amount, reason: kind === "contradiction" ? firstSentence(message) : `a call failed (${kind})` } : undefined;
}

export type Level = "normal" | "read_only" | "handoff";

/** Where a confidence stands against the thresholds. */
export function levelOf(confidence: number, policy: ConfidencePolicy): Level {
  if (confidence < policy.handoffBelow) return "handoff";
  if (confidence < policy.readOnlyBelow) return "read_only";
  return "normal";
}

/** Lower `confidence` by `amount`, clamped to 0..1 and rounded to avoid 0.35000000000000003. */
export function lower(confidence: number, amount: number): number {
  return Math.max(0, Math.round((confidence - Math.max(0, amount)) * 1e6) / 1e6);
}

function firstSentence(s: string) {
  const i = s.indexOf(". ");
  return i > 0 ? s.slice(0, i) : s;
}
