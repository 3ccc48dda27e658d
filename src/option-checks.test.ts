import { describe, expect, it } from "vitest";
import { createRuntime, defineTool } from "./index.js";
import { badDuration, badNumber, badWhole, MAX_TIMER_MS } from "./option-checks.js";

describe("option checks", () => {
  it("durations: finite, above 0 (or 0 when allowed), within a timer's reach when waited for", () => {
    expect(badDuration(1)).toBeUndefined();
    expect(badDuration(0, { zero: true })).toBeUndefined();
    expect(badDuration(MAX_TIMER_MS, { timer: true })).toBeUndefined();
    expect(badDuration(2 ** 40)).toBeUndefined(); // a retention, not a timer
    for (const v of [0, -1, Number.NaN, Infinity, "10", null]) expect(badDuration(v)).toMatch(/must be a number of milliseconds above 0, not /);
    expect(badDuration(MAX_TIMER_MS + 1, { timer: true })).toMatch(/at most 2147483647/);
    expect(badWhole(3, 1)).toBeUndefined();
    expect(badWhole(2 ** 60, 1)).toMatch(/whole number/);
    expect(badNumber(0.5, 0, 1)).toBeUndefined();
    expect(badNumber(Number.NaN, 0)).toBe("must be a number of at least 0, not NaN");
  });
});

describe("createRuntime refuses absurd numeric options, by name", () => {
  it.each([
    [{ idempotency: { sweepEveryMs: Infinity } }, "idempotency.sweepEveryMs must be a number of milliseconds 0 or more and at most 2147483647"],
    [{ idempotency: { sweepEveryMs: -1 } }, "idempotency.sweepEveryMs must be"],
    [{ idempotency: { retentionMs: Infinity } }, "idempotency.retentionMs must be a number of milliseconds above 0, not Infinity"],
    [{ idempotency: { retentionMs: 0 } }, "idempotency.retentionMs must be"],
    [{ breakerSyncMs: Number.NaN }, "breakerSyncMs must be a number of milliseconds above 0 and at most 2147483647 (about 24.8 days, the longest a timer can wait), not NaN"],
    [{ breakerSyncMs: 0 }, "breakerSyncMs must be"],
    [{ retryBudget: { retryRatio: Number.NaN } }, "retryBudget.retryRatio must be a number of at least 0, not NaN"],
    [{ retryBudget: { minRetriesPerSecond: -1 } }, "retryBudget.minRetriesPerSecond must be a number of at least 0, not -1"],
    [{ retryBudget: { ttlMs: Infinity } }, "retryBudget.ttlMs must be"],
  ])("%j", (options, message) => {
    expect(() => createRuntime(options as never)).toThrow(TypeError);
    expect(() => createRuntime(options as never)).toThrow(`createRuntime: ${message}`);
  });

  it("a timeout at a timer's limit is a real timeout: the call is not cut after 1 ms", async () => {
    const rt = createRuntime({ idempotency: { sweepEveryMs: 0 } });
    const slow = defineTool({ name: "slow", effect: "read", timeoutMs: MAX_TIMER_MS, execute: () => new Promise((r) => setTimeout(() => r("done"), 30)) });
    expect(await rt.startRun({ agent: "a" }).call(slow, {})).toMatchObject({ ok: true, value: "done" });
    await rt.close();
  });
});
