import { describe, expect, it } from "vitest";
import { freshRun, transition } from "./run-record.js";
import { summarizeRun } from "./run-summary.js";
import type { RunRecord } from "./store/types.js";

const T0 = 1_700_000_000_000;

describe("summarizeRun", () => {
  it("a fresh run: normal, nothing used, no max unless the caller knows the policy", () => {
    const s = summarizeRun(freshRun("r-1", "bot", T0), { now: T0 });
    expect(s).toEqual({
      runId: "r-1",
      agent: "bot",
      status: "running",
      mode: "normal",
      steps: 0,
      destructive: { used: 0, inFlight: 0 },
      failuresInARow: 0,
      unverifiedDepth: 0,
      confidence: 1,
      reviews: 0,
      awaitsReview: false,
      startedAt: T0,
      updatedAt: T0,
    });
    expect(summarizeRun(freshRun("r-1", "bot", T0), { now: T0, maxPerRun: 3 }).destructive).toEqual({ used: 0, inFlight: 0, max: 3 });
  });

  it("a run narrowed by its spent budget: mode, reason, narrowedBy, steps, failures and the last review", () => {
    const r: RunRecord = {
      ...transition(freshRun("r-2", "db-bot", T0), "read_only", "its destructive budget (1) is used up", "budget"),
      steps: 4,
      destructive: { used: 1, inFlight: [] },
      failures: [{ tool: "drop", kind: "destructive_budget_exceeded" }],
      reviews: [{ by: "ada", at: T0 + 1 }, { by: "bo", note: "checked the backups", at: T0 + 2 }],
      stopRequested: { reason: "enough", at: T0 + 3 },
    };
    const s = summarizeRun(r, { now: T0 + 10, maxPerRun: 1 });
    expect(s).toMatchObject({
      mode: "read_only",
      reason: "its destructive budget (1) is used up",
      narrowedBy: "budget",
      steps: 4,
      destructive: { used: 1, inFlight: 0, max: 1 },
      failuresInARow: 1,
      reviews: 2,
      lastReview: { by: "bo", note: "checked the backups", at: T0 + 2 },
      stopRequested: { reason: "enough", at: T0 + 3 },
    });
    expect(s.awaitsReview).toBe(true);
    // Not the record's own shape: no facts, history or gates, and the in-flight slots as a number.
    expect(Object.keys(s)).not.toContain("facts");
    expect(Object.keys(s)).not.toContain("history");
  });

  it("an in-flight slot whose lease ran out counts as used (its process died), as admission will count it", () => {
    const r: RunRecord = { ...freshRun("r-3", "bot", T0), destructive: { used: 1, inFlight: [{ callId: "a", until: T0 + 100 }, { callId: "b", until: T0 + 500 }] } };
    expect(summarizeRun(r, { now: T0 + 50 }).destructive).toEqual({ used: 1, inFlight: 2 });
    expect(summarizeRun(r, { now: T0 + 200 }).destructive).toEqual({ used: 2, inFlight: 1 });
    expect(summarizeRun({ ...r, destructive: { used: 0, inFlight: [{ callId: "a", until: T0 + 100 }] } }, { now: T0 }).awaitsReview).toBe(false);
    expect(summarizeRun({ ...r, destructive: { used: 0, inFlight: [{ callId: "a", until: T0 + 100 }] } }, { now: T0 + 100 }).awaitsReview).toBe(true);
  });

  it("a run narrowed by low confidence does not wait for a review (a review does not lift it)", () => {
    const r = transition(freshRun("r-4", "bot", T0), "read_only", "confidence 0.4", "confidence");
    expect(summarizeRun(r, { now: T0 }).awaitsReview).toBe(false);
  });
});
