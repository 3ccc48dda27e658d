/**
 * What a person needs to see of a run, from its stored record: mode and why, steps, the
 * destructive budget (used, in flight, and the most allowed when the caller knows the
 * policy), failures in a row, confidence and the last review. Shared by `bulwark runs`,
 * `GET /api/runs` and the dashboard, so that all three say the same thing.
 */
import { lapse } from "./run-record.js";
import type { RunRecord } from "./store/types.js";

/** The run's identity and mode as the record has them (see RunRecord), and what a person needs beside. */
export interface RunSummary extends Pick<RunRecord, "runId" | "agent" | "status" | "mode" | "reason" | "narrowedBy" | "stopRequested" | "steps" | "unverifiedDepth" | "confidence" | "startedAt" | "endedAt" | "updatedAt"> {
  destructive: {
    /** Destructive actions done since the last review (a slot whose lease ran out counts: its process died). */
    used: number;
    /** Admitted and not yet settled. */
    inFlight: number;
    /** The most allowed between reviews, by the policy the caller gave (a run started with its own policy may have another). */
    max?: number;
  };
  failuresInARow: number;
  /** Reviews recorded (the record keeps the latest few). */
  reviews: number;
  lastReview?: { by: string; note?: string; at: number };
  /**
   * Whether a person's review would renew something: the run reads only because it spent
   * its destructive budget, or it made destructive changes since the last review.
   */
  awaitsReview: boolean;
}

/**
 * The summary of `r` at `now`. `maxPerRun` is the destructive budget of the policy the
 * caller knows (the record does not keep the run's policy); without it, `max` is left out.
 */
export function summarizeRun(r: RunRecord, o: { now: number; maxPerRun?: number }): RunSummary {
  const { destructive } = lapse(r, o.now);
  const lastReview = r.reviews.at(-1);
  return {
    runId: r.runId,
    agent: r.agent,
    status: r.status,
    mode: r.mode,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    ...(r.narrowedBy !== undefined ? { narrowedBy: r.narrowedBy } : {}),
    ...(r.stopRequested ? { stopRequested: r.stopRequested } : {}),
    steps: r.steps,
    destructive: { used: destructive.used, inFlight: destructive.inFlight.length, ...(o.maxPerRun !== undefined ? { max: o.maxPerRun } : {}) },
    failuresInARow: r.failures.length,
    unverifiedDepth: r.unverifiedDepth,
    confidence: r.confidence,
    reviews: r.reviews.length,
    ...(lastReview ? { lastReview } : {}),
    awaitsReview: r.narrowedBy === "budget" || destructive.used > 0,
    startedAt: r.startedAt,
    ...(r.endedAt !== undefined ? { endedAt: r.endedAt } : {}),
    updatedAt: r.updatedAt,
  };
}
