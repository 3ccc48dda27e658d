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

  it("resolves freeze windows as written (texts, Dates, ms) to spans of epoch ms, leaving the base and the input as they were", () => {
    const input = { freeze: [{ from: "2026-07-18T12:00Z", to: new Date(Date.UTC(2026, 6, 18, 14)) }, { from: 5, to: 9 }] };
    const base = resolvePolicy(defaultPolicy);
    const p = resolvePolicy(base, input);
    expect(p.freeze).toEqual([{ from: Date.UTC(2026, 6, 18, 12), to: Date.UTC(2026, 6, 18, 14) }, { from: 5, to: 9 }]);
    expect(input.freeze[0]!.from).toBe("2026-07-18T12:00Z");
    expect(base.freeze).toBe(false);
    expect(defaultPolicy.freeze).toBe(false);
  });

  it.each([
    [{ maxSteps: -1 }, "maxSteps must be a whole number of at least 1, not -1"],
    [{ maxSteps: 2.5 }, "maxSteps must be a whole number"],
    [{ maxConsecutiveFailures: 0 }, "maxConsecutiveFailures must be a whole number of at least 1"],
    [{ destructive: { maxPerRun: -3 } }, "destructive.maxPerRun must be a whole number of at least 0"],
    [{ maxSteps: Number.NaN }, "maxSteps must be a whole number of at least 1, not NaN"],
    [{ maxSteps: Infinity }, "maxSteps must be a whole number of at least 1, not Infinity"],
    [{ deadlineMs: -5 }, "deadlineMs must be a number of milliseconds above 0, not -5"],
    [{ deadlineMs: Infinity }, "deadlineMs must be a number of milliseconds above 0, not Infinity"],
    [{ maxFactAgeMs: Number.NaN }, "maxFactAgeMs must be a number of milliseconds above 0, not NaN"],
    [{ approvalWaitMs: -1 }, "approvalWaitMs must be a number of milliseconds 0 or more"],
    [{ approvalWaitMs: "5" }, 'approvalWaitMs must be a number of milliseconds 0 or more, not "5"'],
    [{ verification: { timeoutMs: 2 ** 31 } }, "verification.timeoutMs must be a number of milliseconds above 0 and at most 2147483647 (about 24.8 days, the longest a timer can wait), not 2147483648"],
    [{ freeze: "yes" }, "freeze must be true, false or a list"],
    [{ freeze: [{ from: "2026-02-01T00:00Z", to: "2026-01-01T00:00:00+00:00" }] }, "freeze[0] ends (2026-01-01T00:00:00.000Z) before it starts"],
    [{ freeze: [{ from: "not a date", to: "2026-01-01T00:00Z" }] }, 'freeze[0].from: "not a date" is not a time'],
    // Without a zone, JavaScript reads a time in the local zone of whichever machine runs it: refused.
    [{ freeze: [{ from: "2026-07-18T12:00", to: "2026-07-18T14:00Z" }] }, 'freeze[0].from: "2026-07-18T12:00" has no time zone, so it would mean a different moment on each machine'],
    [{ freeze: [{ from: "2026-07-18T12:00Z", to: "2026-07-19" }] }, 'freeze[0].to: "2026-07-19" has no time zone'],
    [{ freeze: [{ from: "July 18, 2026 12:00", to: "2026-07-19T00:00Z" }] }, "has no time zone"],
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
