import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool, toolDefaults } from "./tool.js";

const execute = async () => 1;

describe("defineTool", () => {
  it("resolves defaults once", () => {
    const t = defineTool({ name: "t", effect: "read", execute });
    expect(t.timeoutMs).toBe(10_000);
    expect(t.retry).toEqual(toolDefaults.retry);
    expect(t.breaker).toEqual(toolDefaults.breaker);
    expect(t.keyed).toBe(false);
    expect(defineTool({ name: "w", effect: "write", execute }).keyed).toBe(true);
    expect(defineTool({ name: "r", effect: "read", execute, idempotencyKey: () => "k" }).keyed).toBe(true);
  });

  it("merges partial retry and breaker options, and accepts false", () => {
    const t = defineTool({ name: "t", effect: "read", execute, retry: { maxAttempts: 5 }, breaker: false });
    expect(t.retry).toEqual({ ...toolDefaults.retry, maxAttempts: 5 });
    expect(t.breaker).toBe(false);
  });

  it("accepts any Standard Schema", () => {
    expect(() => defineTool({ name: "t", effect: "read", execute, input: z.object({ a: z.string() }) })).not.toThrow();
  });

  it.each([
    [{ name: "" }, 'name must be 1 to 128'],
    [{ name: "has space" }, "name must be"],
    [{ effect: "delete" }, 'effect must be one of read, write, destructive, not "delete"'],
    [{ execute: 3 }, "execute must be a function"],
    [{ input: { parse() {} } }, "input must be a Standard Schema"],
    [{ timeoutMs: 0 }, "timeoutMs must be a number of milliseconds above 0"],
    [{ timeoutMs: -1 }, "timeoutMs must be a number of milliseconds above 0"],
    // A Node timer fires after 1 ms past 2^31 - 1 ms: such a timeout would time out at once.
    [{ timeoutMs: 2 ** 31 }, "timeoutMs must be a number of milliseconds above 0 and at most 2147483647 (about 24.8 days, the longest a timer can wait), not 2147483648"],
    [{ timeoutMs: Number.NaN }, "timeoutMs must be a number of milliseconds above 0 and at most 2147483647 (about 24.8 days, the longest a timer can wait), not NaN"],
    [{ retry: { maxDelayMs: Infinity } }, "retry.maxDelayMs must be a number of milliseconds 0 or more and at most 2147483647"],
    [{ retry: { baseDelayMs: Number.NaN } }, "retry.baseDelayMs must be a number of milliseconds 0 or more"],
    [{ breaker: { halfOpenAfterMs: Infinity } }, "breaker.halfOpenAfterMs must be a number of milliseconds 0 or more, not Infinity"],
    [{ retry: { maxAttempts: 0 } }, "retry.maxAttempts must be a whole number of at least 1, not 0"],
    [{ retry: { baseDelayMs: 100, maxDelayMs: 10 } }, "retry.maxDelayMs (10) must be at least retry.baseDelayMs (100)"],
    [{ breaker: { failureRate: 1.5 } }, "breaker.failureRate must be above 0 and at most 1"],
    [{ breaker: { windowSize: 5, minCalls: 6 } }, "breaker.minCalls must be a whole number from 1 to windowSize (5)"],
    [{ concurrency: 0 }, "concurrency must be a whole number of at least 1"],
    [{ approval: "sometimes" }, 'approval must be "always", "never" or a function'],
    [{ verify: "yes" }, "verify must be a function"],
  ])("rejects %j with a clear error naming the tool", (override, message) => {
    const spec = { name: "pay", effect: "write", execute, ...override };
    expect(() => defineTool(spec as never)).toThrow(TypeError);
    expect(() => defineTool(spec as never)).toThrow(message);
  });
});
