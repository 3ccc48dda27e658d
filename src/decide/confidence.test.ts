import { describe, expect, it } from "vitest";
import { failures, type Outcome } from "../failure.js";
import { callPenalty, confidenceDefaults, levelOf, lower } from "./confidence.js";

const p = confidenceDefaults.penalties;
const ok: Outcome<unknown> = { ok: true, value: 1, callId: "c", replayed: false };
const fail = (f: ReturnType<typeof failures.timeout>): Outcome<unknown> => ({ ok: false, failure: f, callId: "c" });

describe("confidence", () => {
  it("charges contradictions, unverified writes and failures, not reads, waits or transient failures", () => {
    expect(callPenalty("read", ok, undefined, p)).toBeUndefined();
    expect(callPenalty("write", ok, true, p)).toBeUndefined();
    expect(callPenalty("write", ok, undefined, p)?.amount).toBe(p.unverifiedWrite);
    expect(callPenalty("read", fail(failures.contradiction("k", "a against b")), undefined, p)).toMatchObject({ amount: p.contradiction, reason: "Sources of equal authority disagree about k: a against b" });
    expect(callPenalty("write", fail(failures.writeUnverified("w", "mismatch")), false, p)?.amount).toBe(p.writeUnverified);
    expect(callPenalty("read", fail(failures.invalidInput("t", ["x"])), undefined, p)?.amount).toBe(p.failure);
    expect(callPenalty("read", fail(failures.timeout("t", 10, 1)), undefined, p)).toBeUndefined();
    expect(callPenalty("write", fail(failures.approvalRequired("t", "a1")), undefined, p)).toBeUndefined();
  });

  it("levels: read-only below readOnlyBelow, handoff below handoffBelow", () => {
    expect(levelOf(1, confidenceDefaults)).toBe("normal");
    expect(levelOf(0.7, confidenceDefaults)).toBe("normal");
    expect(levelOf(0.65, confidenceDefaults)).toBe("read_only");
    expect(levelOf(0.35, confidenceDefaults)).toBe("handoff");
  });

  it("lower clamps at 0 and does not accumulate float noise", () => {
    expect(lower(1, 0.65)).toBe(0.35);
    expect(lower(0.1, 0.65)).toBe(0);
    expect(lower(0.5, -1)).toBe(0.5);
  });
});
