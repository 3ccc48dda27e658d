import { describe, expect, it } from "vitest";
import { defaultPolicy, resolvePolicy } from "./policy.js";
import { countFailure, freshRun, passGate, transition } from "./run-record.js";
import type { RunRecord } from "./store/types.js";

const T0 = 1_700_000_000_000;

describe("transitions", () => {
  it("never widen: halted beats handed off beats read-only beats normal", () => {
    const r = freshRun("r", "a", T0);
    const ro = transition(r, "read_only", "low confidence", "confidence");
    expect(ro).toMatchObject({ mode: "read_only", reason: "low confidence", narrowedBy: "confidence" });
    expect(transition(ro, "normal", "x")).toBe(ro);
    const h = transition(ro, "halted", "stopped");
    expect(h).toMatchObject({ mode: "halted", reason: "stopped" });
    expect(h.narrowedBy).toBeUndefined();
    expect(transition(h, "handed_off", "person")).toBe(h);
    expect(transition(h, "read_only", "budget")).toBe(h);
  });

  it("the chain breaker counts what the policy counts, and halts at the limit with the streak as the reason", () => {
    const policy = resolvePolicy(defaultPolicy, { maxConsecutiveFailures: 3 });
    let r: RunRecord = freshRun("r", "a", T0);
    r = countFailure(r, policy, "crm", "approval_required");
    expect(r.failures).toEqual([]);
    r = countFailure(countFailure(r, policy, "crm", "tool_error"), policy, "crm", "timeout");
    expect(r.mode).toBe("normal");
    r = countFailure(r, policy, "billing", "frozen");
    expect(r).toMatchObject({ mode: "halted", reason: "the last 3 calls failed (crm: tool_error, crm: timeout, billing: frozen)" });
  });

  it("a gate resets the unverified depth and is recorded with its reason, the last ten kept", () => {
    let r: RunRecord = { ...freshRun("r", "a", T0), unverifiedDepth: 3 };
    for (let i = 0; i < 12; i++) r = passGate(r, `gate ${i}`, T0 + i);
    expect(r.unverifiedDepth).toBe(0);
    expect(r.gates).toHaveLength(10);
    expect(r.gates.at(-1)).toEqual({ reason: "gate 11", at: T0 + 11 });
  });
});

