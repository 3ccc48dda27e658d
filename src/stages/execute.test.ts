import { describe, expect, it, vi } from "vitest";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { ToolError } from "../tool-error.js";
import { defineTool } from "../tool.js";
import { execute } from "./execute.js";

function setup(policy = {}) {
  const env = makeEnv();
  const run = makeRun(env, policy);
  return { env, run };
}

describe("execute stage", () => {
  it("returns the response of a tool that succeeds, once, without retrying", async () => {
    const { env, run } = setup();
    const fn = vi.fn(async (a: { x: number }) => a.x * 2);
    const call = makeCall(defineTool({ name: "double", effect: "read", execute: fn }), { x: 21 }, run, env);
    expect(await execute(call, env)).toBeUndefined();
    expect(call.output).toBe(42);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(call.attempts).toBe(1);
  });

  it("retries a thrown error with backoff, within maxAttempts, with the same idempotency key", async () => {
    const { env, run } = setup();
    const seen: { attempt: number; key?: string }[] = [];
    const tool = defineTool({
      name: "flaky",
      effect: "write",
      idempotent: true, // its system deduplicates on the key: a retry after an unknown outcome is safe
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 },
      execute: async (_: unknown, ctx) => {
        seen.push({ attempt: ctx.attempt, key: ctx.idempotencyKey });
        if (ctx.attempt < 3) throw new Error("503 Service Unavailable");
        return "ok";
      },
    });
    const call = makeCall(tool, {}, run, env);
    call.key = "k1";
    const done = execute(call, env);
    await env.clock.advance(49); // jitter 0.5 of 100 = 50ms before retry 1
    expect(seen).toHaveLength(1);
    await env.clock.advance(1);
    expect(seen).toHaveLength(2);
    await env.clock.advance(100); // 0.5 of 200
    expect(await done).toBeUndefined();
    expect(seen).toEqual([
      { attempt: 1, key: "k1" },
      { attempt: 2, key: "k1" },
      { attempt: 3, key: "k1" },
    ]);
  });

  it("gives up after maxAttempts with a tool_error that says how many", async () => {
    const { env, run } = setup();
    const tool = defineTool({ name: "down", effect: "read", retry: { maxAttempts: 2, baseDelayMs: 10 }, breaker: false, execute: async () => { throw new Error("ECONNRESET"); } });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(1_000);
    const f = await done;
    expect(f).toMatchObject({ kind: "tool_error", retryable: true, detail: { attempts: 2, error: "ECONNRESET" } });
    expect(f!.message).toContain("down failed after 2 attempts: ECONNRESET");
  });

  it("does not retry an error marked not retryable", async () => {
    const { env, run } = setup();
    const fn = vi.fn(async () => {
      throw new ToolError("card declined", { retryable: false });
    });
    const f = await execute(makeCall(defineTool({ name: "pay", effect: "write", execute: fn }), {}, run, env), env);
    expect(f).toMatchObject({ kind: "tool_error", retryable: false });
    expect(f!.message).toContain("will fail the same way");
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("a tool that asks for input first: input_required, not retried, its breaker not told; the call counts as not executed", async () => {
    const { env, run } = setup();
    const fn = vi.fn(async () => {
      throw new ToolError("which account?", { inputRequired: true });
    });
    const tool = defineTool({ name: "lookup", effect: "read", retry: { maxAttempts: 3, baseDelayMs: 1 }, breaker: { windowSize: 3, minCalls: 2, failureRate: 0.5, halfOpenAfterMs: 30_000 }, execute: fn });
    for (let i = 0; i < 4; i++) {
      const call = makeCall(tool, {}, run, env);
      expect(await execute(call, env)).toMatchObject({ kind: "input_required", retryable: true, detail: { error: "which account?" } });
      expect([call.attempts, call.executed]).toEqual([1, false]);
    }
    expect([fn.mock.calls.length, env.health.for(tool).breaker?.state]).toEqual([4, "closed"]);
  });

  it("waits a rate limit's Retry-After instead of the backoff", async () => {
    const { env, run } = setup();
    let calls = 0;
    const tool = defineTool({
      name: "limited",
      effect: "read",
      execute: async () => {
        if (++calls === 1) throw new ToolError("429 Too Many Requests", { retryAfterMs: 2_000 });
        return "ok";
      },
    });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(1_999);
    expect(calls).toBe(1);
    await env.clock.advance(1);
    expect(await done).toBeUndefined();
    expect(calls).toBe(2);
  });

  it("describes a thrown non-Error", async () => {
    const { env, run } = setup();
    const tool = defineTool({ name: "odd", effect: "read", retry: false, execute: async () => { throw { code: 42 }; } });
    const f = await execute(makeCall(tool, {}, run, env), env);
    expect(f!.message).toContain('non-Error value thrown: {"code":42}');
  });

  it("times out a tool that never resolves, through its signal", async () => {
    const { env, run } = setup();
    let signal: AbortSignal | undefined;
    const tool = defineTool({
      name: "hang",
      effect: "read",
      timeoutMs: 1_000,
      retry: false,
      execute: (_: unknown, ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
    });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(1_000);
    expect(await done).toMatchObject({ kind: "timeout", retryable: true });
    expect(signal!.aborted).toBe(true);
    expect(env.clock.pending).toBe(0);
  });

  it("drops the late result of a tool that ignores its signal", async () => {
    const { env, run } = setup();
    let resolveLate!: (v: string) => void;
    const tool = defineTool({ name: "deaf", effect: "read", timeoutMs: 100, retry: false, execute: () => new Promise<string>((r) => (resolveLate = r)) });
    const call = makeCall(tool, {}, run, env);
    const done = execute(call, env);
    await env.clock.advance(100);
    expect((await done)!.kind).toBe("timeout");
    resolveLate("late");
    await env.clock.advance(0);
    expect(call.output).toBeUndefined();
  });

  it("opens the breaker mid-retries and stops hammering the tool", async () => {
    const { env, run } = setup();
    const fn = vi.fn(async () => {
      throw new Error("500");
    });
    const tool = defineTool({ name: "payments", effect: "read", retry: { maxAttempts: 10, baseDelayMs: 1 }, breaker: { windowSize: 5, minCalls: 3, failureRate: 0.5, halfOpenAfterMs: 30_000 }, execute: fn });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(1_000);
    const f = await done;
    expect(f).toMatchObject({ kind: "breaker_open" });
    expect(f!.message).toContain("payments is failing (3 of the last 3 calls; last error: 500)");
    expect(fn).toHaveBeenCalledTimes(3);
    // the next call does not reach the tool at all
    expect(await execute(makeCall(tool, {}, run, env), env)).toMatchObject({ kind: "breaker_open" });
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it("a breaker that opens mid-retries ends them at once, without sleeping the backoff", async () => {
    const { env, run } = setup();
    const fn = vi.fn(async () => {
      throw new Error("500");
    });
    const tool = defineTool({ name: "payments", effect: "read", retry: { maxAttempts: 10, baseDelayMs: 5_000, maxDelayMs: 5_000 }, breaker: { windowSize: 5, minCalls: 1, failureRate: 0.5, halfOpenAfterMs: 30_000 }, execute: fn });
    let settled: unknown;
    void execute(makeCall(tool, {}, run, env), env).then((f) => (settled = f));
    await env.clock.advance(0);
    expect(settled).toMatchObject({ kind: "breaker_open" });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("stops retrying when the retry budget is spent", async () => {
    const { env, run } = setup();
    const tool = defineTool({ name: "storm", effect: "read", breaker: false, retry: { maxAttempts: 1_000, baseDelayMs: 0, maxDelayMs: 0 }, execute: async () => { throw new Error("down"); } });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(0);
    const f = await done;
    expect(f).toMatchObject({ kind: "retry_budget_exhausted" });
    // the reserve (10) plus what the call earned (0.2) rounds to 10 retries
    expect(f!.message).toContain("retry budget is spent");
  });

  it("bounds concurrent calls with its bulkhead; a freed slot goes to the next in line", async () => {
    const { env, run } = setup();
    let active = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const tool = defineTool({
      name: "narrow",
      effect: "read",
      concurrency: 2,
      retry: false,
      execute: () =>
        new Promise<void>((r) => {
          peak = Math.max(peak, ++active);
          release.push(() => {
            active--;
            r();
          });
        }),
    });
    const calls = [1, 2, 3].map(() => execute(makeCall(tool, {}, run, env), env));
    await env.clock.advance(0);
    expect(peak).toBe(2);
    expect(release).toHaveLength(2);
    release[0]!();
    await env.clock.advance(0);
    expect(release).toHaveLength(3); // the third got the freed slot
    release[1]!();
    release[2]!();
    expect(await Promise.all(calls)).toEqual([undefined, undefined, undefined]);
    expect(peak).toBe(2);
  });

  it("a call waiting for the bulkhead gives up when its time is up, without running", async () => {
    const { env, run } = setup();
    const fn = vi.fn(() => new Promise<void>(() => {}));
    const tool = defineTool({ name: "one-lane", effect: "read", concurrency: 1, timeoutMs: 10_000, retry: false, execute: fn });
    void execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(0);
    const hurried = makeRun(env, { deadlineMs: 300 });
    const second = execute(makeCall(tool, {}, hurried, env), env);
    await env.clock.advance(300);
    expect(await second).toMatchObject({ kind: "timeout", detail: { saturated: true, concurrency: 1, timeoutMs: 300 } });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("a stopped run cancels the attempt through its signal", async () => {
    const { env, run } = setup();
    let signal: AbortSignal | undefined;
    const tool = defineTool({ name: "long", effect: "read", execute: (_: unknown, ctx) => { signal = ctx.signal; return new Promise(() => {}); } });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(0);
    run.stop("operator said stop");
    expect(await done).toMatchObject({ kind: "run_halted" });
    expect(signal!.aborted).toBe(true);
  });

  it("a deadline shorter than the timeout ends the call as deadline_exceeded", async () => {
    const { env, run } = setup({ deadlineMs: 500 });
    const tool = defineTool({ name: "slow", effect: "read", timeoutMs: 10_000, execute: () => new Promise(() => {}) });
    const done = execute(makeCall(tool, {}, run, env), env);
    await env.clock.advance(500);
    expect(await done).toMatchObject({ kind: "deadline_exceeded" });
  });
});
