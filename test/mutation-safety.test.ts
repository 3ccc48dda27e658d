import { describe, expect, it, vi } from "vitest";
import { createRuntime, defineTool } from "../src/index.js";
import { kindOf, manualRuntime } from "./fixtures/runtime.js";
import { READ_FRESH_MS } from "../src/run-state.js";

describe("destructive budget", () => {
  it("past destructive.maxPerRun the call is refused and the run degrades to read-only with a reason", async () => {
    const { rt } = manualRuntime({ destructive: { maxPerRun: 2 }, maxConsecutiveFailures: 5 });
    const execute = vi.fn(async () => 1);
    const drop = defineTool({ name: "drop", effect: "destructive", execute, verify: async () => true });
    const write = defineTool({ name: "write", effect: "write", execute: async () => 1 });
    const read = defineTool({ name: "read", effect: "read", execute: async () => 1 });
    const run = rt.startRun({ agent: "a" });
    expect(kindOf(await run.call(drop, { t: 1 }))).toBe("ok");
    expect(kindOf(await run.call(drop, { t: 2 }))).toBe("ok");
    expect(kindOf(await run.call(drop, { t: 3 }))).toBe("destructive_budget_exceeded");
    expect(run.mode).toBe("read_only");
    expect(run.reason).toMatch(/destructive budget \(2\) is used up/);
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("read_only");
    expect(kindOf(await run.call(read, {}))).toBe("ok");
    expect(execute).toHaveBeenCalledTimes(2);
  });

  it("a replayed destructive call uses no budget", async () => {
    const { rt } = manualRuntime({ destructive: { maxPerRun: 2 } });
    const drop = defineTool({ name: "drop", effect: "destructive", execute: async () => 1, verify: async () => true });
    const run = rt.startRun({ agent: "a" });
    await run.call(drop, { t: 1 });
    expect(await run.call(drop, { t: 1 })).toMatchObject({ ok: true, replayed: true });
    expect(await run.call(drop, { t: 2 })).toMatchObject({ ok: true, replayed: false });
    expect(kindOf(await run.call(drop, { t: 3 }))).toBe("destructive_budget_exceeded");
  });
});

describe("verification gates", () => {
  const blind = () => defineTool({ name: "blind", effect: "write", execute: vi.fn(async () => 1) });

  it("after maxUnverifiedDepth unverified mutations the next one is verification_required; reads do not count", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 3, maxConsecutiveFailures: 10 });
    const w = blind();
    const read = defineTool({ name: "read", effect: "read", execute: async () => 1 });
    const run = rt.startRun({ agent: "a" });
    for (let n = 0; n < 3; n++) {
      await run.call(w, { n });
      await run.call(read, { n });
    }
    expect(run.unverifiedDepth).toBe(3);
    const o = await run.call(w, { n: 3 });
    expect(kindOf(o)).toBe("verification_required");
    if (!o.ok) expect(o.failure.message).toContain("the last 3 changes in this run were not verified");
    expect(kindOf(await run.call(read, {}))).toBe("ok");
    expect(w.spec.execute).toHaveBeenCalledTimes(3);
  });

  it("run.passGate (a verified decision, a person's check) reopens the gate", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 1, maxConsecutiveFailures: 10 });
    const w = blind();
    const run = rt.startRun({ agent: "a" });
    await run.call(w, { n: 0 });
    expect(kindOf(await run.call(w, { n: 1 }))).toBe("verification_required");
    await run.passGate("decision verified by two paths");
    expect(run.unverifiedDepth).toBe(0);
    expect(kindOf(await run.call(w, { n: 1 }))).toBe("ok");
    expect(() => run.passGate("")).toThrow(/say which gate/);
  });
});

describe("stop", () => {
  it("run.stop halts at once: the call in flight is cancelled through its signal, no further call executes", async () => {
    const { rt } = manualRuntime();
    let aborted = false;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const slow = defineTool({
      name: "slow",
      effect: "write",
      execute: (_a, ctx) => new Promise((_r, reject) => { started(); ctx.signal.addEventListener("abort", () => { aborted = true; reject(new Error("aborted")); }); }),
    });
    const next = defineTool({ name: "next", effect: "read", execute: vi.fn(async () => 1) });
    const run = rt.startRun({ agent: "a" });
    const pending = run.call(slow, {});
    await running;
    await run.stop("stop now");
    expect(kindOf(await pending)).toBe("run_halted");
    expect(aborted).toBe(true);
    const o = await run.call(next, {});
    expect(kindOf(o)).toBe("run_halted");
    if (!o.ok) expect(o.failure.message).toContain("stop now");
    expect(next.spec.execute).not.toHaveBeenCalled();
  });

  it("a stop requested through the store (another process) is noticed before the next write", async () => {
    const { rt, store } = manualRuntime();
    const write = defineTool({ name: "w", effect: "write", execute: vi.fn(async () => 1) });
    const run = rt.startRun({ agent: "a" });
    await run.call(write, { n: 0 });
    const operator = createRuntime({ store });
    expect(await operator.stopRun(run.id, "the user said stop")).toBe(true);
    const o = await run.call(write, { n: 1 });
    expect(kindOf(o)).toBe("run_halted");
    if (!o.ok) expect(o.failure.message).toContain("the user said stop");
    expect(write.spec.execute).toHaveBeenCalledTimes(1);
    expect(run.mode).toBe("halted");
  });

  it("reads pay no store round trip of their own, and see a stop requested through the store within READ_FRESH_MS (manual clock)", async () => {
    const { rt, store, clock } = manualRuntime();
    const read = defineTool({ name: "r", effect: "read", execute: vi.fn(async () => 1) });
    const run = rt.startRun({ agent: "a" });
    await rt.ready();
    await run.call(read, {});
    const get = vi.spyOn(store.runs, "get");
    const commit = vi.spyOn(store.runs, "commit");
    await run.call(read, {});
    await run.call(read, {});
    expect(get).not.toHaveBeenCalled();
    expect(commit).not.toHaveBeenCalled();
    expect(run.steps).toBe(3);
    await store.runs.requestStop(run.id, "stop from elsewhere", clock.now());
    // Within READ_FRESH_MS of the record it last saw, a read may still go through...
    expect(kindOf(await run.call(read, {}))).toBe("ok");
    // ...after it, the run asks the store (writing the steps of the reads) and finds the stop.
    await clock.advance(READ_FRESH_MS);
    expect(kindOf(await run.call(read, {}))).toBe("run_halted");
    expect(run.mode).toBe("halted");
    expect(run.reason).toBe("stopped by a person: stop from elsewhere");
    expect((await store.runs.get(run.id))!.steps).toBe(4);
  });

  it("rt.stopRun stops a run of this runtime at once, and says false for an unknown run", async () => {
    const { rt } = manualRuntime();
    const read = defineTool({ name: "r", effect: "read", execute: async () => 1 });
    const run = rt.startRun({ agent: "a" });
    await run.call(read, {});
    expect(await rt.stopRun(run.id, "enough")).toBe(true);
    expect(run.mode).toBe("halted");
    expect(kindOf(await run.call(read, {}))).toBe("run_halted");
    expect(await rt.stopRun("no-such-run", "x")).toBe(false);
  });
});
