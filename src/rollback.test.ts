import { describe, expect, it, vi } from "vitest";
import { createRuntime, defineTool } from "./index.js";
import { kindOf, manualRuntime } from "../test/fixtures/runtime.js";

function ledger() {
  const rows: string[] = [];
  const undone: string[] = [];
  const append = defineTool({
    name: "append",
    effect: "write",
    execute: async ({ v }: { v: string }) => { rows.push(v); return { at: rows.length - 1 }; },
    compensate: async ({ v }) => { undone.push(v); rows.splice(rows.lastIndexOf(v), 1); },
  });
  return { rows, undone, append };
}

describe("rollback", () => {
  it("runs compensations newest first, and reports what was undone", async () => {
    const { rt } = manualRuntime();
    const { rows, undone, append } = ledger();
    const run = rt.startRun({ agent: "a" });
    for (const v of ["a", "b", "c"]) await run.call(append, { v });
    const report = await run.rollback();
    expect(undone).toEqual(["c", "b", "a"]);
    expect(rows).toEqual([]);
    expect(report.complete).toBe(true);
    expect(report.undone.map((s) => s.args)).toEqual([{ v: "c" }, { v: "b" }, { v: "a" }]);
    expect(report.notUndone).toEqual([]);
    expect(report.summary).toContain("3 of 3 changes undone");
  });

  it("halts the run: its keys would replay undone effects as done", async () => {
    const { rt } = manualRuntime();
    const { append } = ledger();
    const run = rt.startRun({ agent: "a" });
    await run.call(append, { v: "a" });
    await run.rollback();
    expect(run.mode).toBe("halted");
    expect(kindOf(await run.call(append, { v: "a" }))).toBe("run_halted");
  });

  it("runs each compensation once: a second rollback undoes nothing again", async () => {
    const { rt } = manualRuntime();
    const { undone, append } = ledger();
    const run = rt.startRun({ agent: "a" });
    await run.call(append, { v: "a" });
    await run.rollback();
    const again = await rt.rollback(run.id);
    expect(undone).toEqual(["a"]);
    expect(again.steps.map((s) => s.status)).toEqual(["already_compensated"]);
    expect(again.complete).toBe(true);
  });

  it("two rollbacks at once run each compensation once", async () => {
    const { rt, store } = manualRuntime();
    const { undone, append } = ledger();
    const run = rt.startRun({ agent: "a" });
    for (const v of ["a", "b"]) await run.call(append, { v });
    await run.end();
    const other = createRuntime({ store, tools: [append] });
    const [r1, r2] = await Promise.all([rt.rollback(run.id, [append]), other.rollback(run.id)]);
    expect(undone.sort()).toEqual(["a", "b"]);
    expect(r1.undone.length + r2.undone.length).toBe(2);
  });

  it("a compensation that throws is reported, and the rest are still undone", async () => {
    const { rt, store } = manualRuntime();
    const { undone, append } = ledger();
    const stubborn = defineTool({ name: "stubborn", effect: "write", execute: async () => 1, compensate: async () => { throw new Error("row locked"); } });
    const run = rt.startRun({ agent: "a" });
    await run.call(append, { v: "a" });
    await run.call(stubborn, {});
    await run.call(append, { v: "b" });
    const report = await run.rollback();
    expect(undone).toEqual(["b", "a"]);
    expect(report.complete).toBe(false);
    expect(report.notUndone).toEqual([expect.objectContaining({ tool: "stubborn", status: "compensation_failed", error: "row locked" })]);
    expect(report.summary).toContain("NOT undone");
    const stored = await store.mutations.list(run.id);
    expect(stored.find((m) => m.tool === "stubborn")).toMatchObject({ status: "compensation_failed", error: "row locked" });
    // Not retried blindly by a later rollback either.
    const again = await rt.rollback(run.id);
    expect(again.notUndone[0]).toMatchObject({ status: "compensation_failed" });
  });

  it("a compensation that hangs times out and is reported as failed (manual clock)", async () => {
    const { rt, clock } = manualRuntime();
    const hang = defineTool({ name: "hang", effect: "write", timeoutMs: 100, execute: async () => 1, compensate: () => new Promise<void>(() => {}) });
    const run = rt.startRun({ agent: "a" });
    await run.call(hang, {});
    const pending = run.rollback();
    await clock.advance(100);
    const report = await pending;
    expect(report.steps[0]).toMatchObject({ status: "compensation_failed", error: "timed out after 100ms" });
  });

  it("a compensation left 'compensating' by a crash is reported as interrupted, never re-run", async () => {
    const { rt, store } = manualRuntime();
    const { undone, append } = ledger();
    const run = rt.startRun({ agent: "a" });
    await run.call(append, { v: "a" });
    await run.call(append, { v: "b" });
    const [first, second] = await store.mutations.list(run.id);
    // A rollback process died after marking "b" and before recording its end.
    await store.mutations.transition(second!.id, "done", "compensating");
    const report = await run.rollback();
    expect(undone).toEqual(["a"]);
    expect(report.steps.map((s) => [s.mutationId, s.status])).toEqual([[second!.id, "interrupted"], [first!.id, "compensated"]]);
    expect(report.complete).toBe(false);
  });

  it("a tool without compensate, or unknown to the runtime, is reported as not compensable", async () => {
    const { rt, store } = manualRuntime();
    const plain = defineTool({ name: "plain", effect: "write", execute: async () => 1 });
    const { append } = ledger();
    const run = rt.startRun({ agent: "a" });
    await run.call(plain, {});
    await run.call(append, { v: "x" });
    const cli = createRuntime({ store }); // knows no tools
    const report = await cli.rollback(run.id);
    expect(report.steps.map((s) => [s.tool, s.status])).toEqual([["append", "not_compensable"], ["plain", "not_compensable"]]);
    expect(report.steps[0]!.error).toContain("not known to this runtime");
    // Given the tools, the compensable one is undone.
    const report2 = await cli.rollback(run.id, [append]);
    expect(report2.steps.map((s) => s.status)).toEqual(["compensated", "not_compensable"]);
  });

  it("rt.rollback of a run in another process asks it to stop first", async () => {
    const { rt, store } = manualRuntime();
    const { append } = ledger();
    const run = rt.startRun({ agent: "a" });
    await run.call(append, { v: "a" });
    const other = createRuntime({ store, tools: [append] });
    await other.rollback(run.id);
    expect((await store.runs.get(run.id))?.stopRequested?.reason).toBe("rolled back");
    expect(kindOf(await run.call(append, { v: "b" }))).toBe("run_halted");
  });

  it("a run with no mutations reports nothing to roll back", async () => {
    const { rt } = manualRuntime();
    const report = await rt.startRun({ agent: "a" }).rollback();
    expect(report).toMatchObject({ complete: true, steps: [] });
    expect(report.summary).toContain("nothing to roll back");
  });

  it("registerTools refuses two different tools with one name", () => {
    const { rt } = manualRuntime();
    const a = defineTool({ name: "same", effect: "write", execute: async () => 1 });
    const b = defineTool({ name: "same", effect: "write", execute: async () => 2 });
    rt.registerTools(a, a);
    expect(() => rt.registerTools(b)).toThrow(/already registered/);
  });
});

describe("checkpoint", () => {
  it("runs before the destructive action and its reference is recorded with the mutation and the report", async () => {
    const { rt, store } = manualRuntime();
    const order: string[] = [];
    const drop = defineTool({
      name: "drop",
      effect: "destructive",
      checkpoint: async ({ t }: { t: string }) => { order.push("checkpoint"); return { backup: `bak-${t}` }; },
      execute: async () => { order.push("execute"); return 1; },
    });
    const run = rt.startRun({ agent: "a" });
    expect(kindOf(await run.call(drop, { t: "users" }))).toBe("ok");
    expect(order).toEqual(["checkpoint", "execute"]);
    expect((await store.mutations.list(run.id))[0]?.checkpoint).toEqual({ backup: "bak-users" });
    const report = await run.rollback();
    expect(report.notUndone[0]).toMatchObject({ status: "not_compensable", checkpoint: { backup: "bak-users" } });
    expect(report.summary).toContain("bak-users");
  });

  it("fails closed: a failing checkpoint means the action does not run, with a clear failure", async () => {
    const { rt, store } = manualRuntime();
    const execute = vi.fn(async () => 1);
    const drop = defineTool({ name: "drop", effect: "destructive", checkpoint: async () => { throw new Error("backup disk full"); }, execute });
    const run = rt.startRun({ agent: "a" });
    const o = await run.call(drop, { t: "users" });
    expect(kindOf(o)).toBe("tool_error");
    if (!o.ok) {
      expect(o.failure.message).toContain("was not run");
      expect(o.failure.message).toContain("backup disk full");
      expect(o.failure.detail).toMatchObject({ checkpoint: "failed" });
    }
    expect(execute).not.toHaveBeenCalled();
    expect(await store.mutations.list(run.id)).toEqual([]);
  });

  it("a checkpoint that cannot be recorded (not JSON) fails closed too", async () => {
    const { rt } = manualRuntime();
    const execute = vi.fn(async () => 1);
    const drop = defineTool({ name: "drop", effect: "destructive", checkpoint: async () => ({ n: 1n }), execute });
    expect(kindOf(await rt.startRun({ agent: "a" }).call(drop, {}))).toBe("tool_error");
    expect(execute).not.toHaveBeenCalled();
  });

  it("a replayed call takes no second checkpoint", async () => {
    const { rt } = manualRuntime();
    const checkpoint = vi.fn(async () => "snap-1");
    const drop = defineTool({ name: "drop", effect: "destructive", checkpoint, execute: async () => 1 });
    const run = rt.startRun({ agent: "a" });
    await run.call(drop, { t: "x" });
    expect(await run.call(drop, { t: "x" })).toMatchObject({ ok: true, replayed: true });
    expect(checkpoint).toHaveBeenCalledTimes(1);
  });
});
