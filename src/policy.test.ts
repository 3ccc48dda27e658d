import { describe, expect, it } from "vitest";
import { defaultPolicy, frozenAt, PolicyError, resolvePolicy } from "./policy.js";

describe("resolvePolicy", () => {
  it("layers overrides over the defaults", () => {
    const p = resolvePolicy(defaultPolicy, { maxSteps: 10 }, { destructive: { maxPerRun: 1 } });
    expect(p.maxSteps).toBe(10);
    expect(p.destructive.maxPerRun).toBe(1);
    expect(p.maxConsecutiveFailures).toBe(defaultPolicy.maxConsecutiveFailures);
  });

  it("ignores undefined values instead of erasing defaults", () => {
    expect(resolvePolicy(defaultPolicy, { maxSteps: undefined }).maxSteps).toBe(50);
  });

  it.each([
    [{ maxSteps: -1 }, "maxSteps must be a whole number of at least 1, not -1"],
    [{ maxSteps: 2.5 }, "maxSteps must be a whole number"],
    [{ maxConsecutiveFailures: 0 }, "maxConsecutiveFailures must be a whole number of at least 1"],
    [{ destructive: { maxPerRun: -3 } }, "destructive.maxPerRun must be a whole number of at least 0"],
    [{ deadlineMs: -5 }, "deadlineMs must be a positive number of milliseconds"],
    [{ maxFactAgeMs: Number.NaN }, "maxFactAgeMs must be a positive number"],
    [{ approvalWaitMs: -1 }, "approvalWaitMs must be 0 or more"],
    [{ freeze: "yes" }, "freeze must be true, false or a list"],
    [{ freeze: [{ from: "2026-02-01", to: "2026-01-01" }] }, "freeze[0] ends (2026-01-01T00:00:00.000Z) before it starts"],
    [{ freeze: [{ from: "not a date", to: "2026-01-01" }] }, "freeze[0] needs valid from and to times"],
  ])("rejects nonsense %j with a clear error", (input, message) => {
    expect(() => resolvePolicy(defaultPolicy, input as never)).toThrow(PolicyError);
    expect(() => resolvePolicy(defaultPolicy, input as never)).toThrow(message);
  });
});

describe("frozenAt", () => {
  it("knows booleans and windows, with the end of the window", () => {
    expect(frozenAt(true, 0)).toEqual({ frozen: true });
    expect(frozenAt(false, 0)).toEqual({ frozen: false });
    const windows = [{ from: 100, to: 200 }];
    expect(frozenAt(windows, 99).frozen).toBe(false);
    expect(frozenAt(windows, 100)).toEqual({ frozen: true, until: 200 });
    expect(frozenAt(windows, 200).frozen).toBe(false);
  });
});
