import { describe, expect, it } from "vitest";
import { attempt, AttemptContext } from "./attempt.js";
import { ManualClock } from "./clock.js";

const ctx = () => new AttemptContext("run-1", "call-1", 1, "key-1");

describe("attempt: one try of a tool's function under a timeout", () => {
  it("a synchronous answer settles without a timer, and without making an abort signal", async () => {
    const clock = new ManualClock();
    const c = ctx();
    expect(await attempt(() => 42, c, 1_000, clock)).toEqual({ status: "ok", value: 42 });
    expect(clock.pending).toBe(0);
    // The context still carries the call's identity for the tool.
    expect([c.runId, c.callId, c.attempt, c.idempotencyKey]).toEqual(["run-1", "call-1", 1, "key-1"]);
  });

  it("an async function that never waited makes no timer; one that waits gets its timeout", async () => {
    const clock = new ManualClock();
    let made = 0;
    const counting = Object.assign(Object.create(clock) as ManualClock, { timer: (ms: number, fn: () => void) => (made++, clock.timer(ms, fn)) });
    expect(await attempt(async () => 42, ctx(), 1_000, counting)).toEqual({ status: "ok", value: 42 });
    expect(await attempt(async () => { throw "no"; }, ctx(), 1_000, counting)).toEqual({ status: "error", error: "no" });
    expect(made).toBe(0);
    let answer!: (v: number) => void;
    const waiting = attempt(() => new Promise<number>((r) => (answer = r)), ctx(), 1_000, counting);
    await Promise.resolve();
    expect([made, clock.pending]).toEqual([1, 1]);
    answer(7);
    expect(await waiting).toEqual({ status: "ok", value: 7 });
    expect(clock.pending).toBe(0);
  });

  it("a synchronous throw and a rejection are errors, with the value thrown", async () => {
    const clock = new ManualClock();
    const boom = new Error("boom");
    expect(await attempt(() => { throw boom; }, ctx(), 1_000, clock)).toEqual({ status: "error", error: boom });
    expect(await attempt(async () => { throw "not an Error"; }, ctx(), 1_000, clock)).toEqual({ status: "error", error: "not an Error" });
    expect(clock.pending).toBe(0);
  });

  it("a function that never answers times out at its deadline, its signal aborted, and a late answer is dropped", async () => {
    const clock = new ManualClock();
    const c = ctx();
    let answer!: (v: string) => void;
    const result = attempt(() => new Promise<string>((r) => (answer = r)), c, 500, clock);
    await clock.advance(499);
    expect(c.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(await result).toEqual({ status: "timeout" });
    expect(c.signal.aborted).toBe(true);
    expect(String(c.signal.reason)).toContain("timed out after 500ms");
    answer("late");
    expect(await result).toEqual({ status: "timeout" });
  });

  it("an answer in time clears the timer: nothing is left scheduled", async () => {
    const clock = new ManualClock();
    expect(await attempt(async () => "on time", ctx(), 500, clock)).toEqual({ status: "ok", value: "on time" });
    expect(clock.pending).toBe(0);
  });

  it("a cancellation settles at once with its reason and aborts the tool's signal", async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    const c = ctx();
    const result = attempt(() => new Promise(() => {}), c, 10_000, clock, stop.signal);
    stop.abort("stopped by a person");
    expect(await result).toEqual({ status: "cancelled", reason: "stopped by a person" });
    expect(c.signal.aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("an already-cancelled attempt never calls the function", async () => {
    const stop = new AbortController();
    stop.abort("halted");
    let called = false;
    const r = await attempt(() => (called = true), ctx(), 1_000, new ManualClock(), stop.signal);
    expect(r).toEqual({ status: "cancelled", reason: "halted" });
    expect(called).toBe(false);
  });

  it("a thenable that is not a Promise is awaited like one", async () => {
    const thenable = { then: (ok: (v: number) => void) => ok(7) };
    expect(await attempt(() => thenable as unknown as Promise<number>, ctx(), 1_000, new ManualClock())).toEqual({ status: "ok", value: 7 });
  });
});
