import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { Registry } from "prom-client";
import { createRuntime, defineTool, ManualClock } from "bulwark";

function runtime(enforce: boolean, policy = {}) {
  return createRuntime({ clock: new ManualClock(), policy, enforce, random: () => 0.5, onError: (e) => { throw e; } });
}

describe("shadow mode (enforce: false)", () => {
  it("calls a frozen write, returns its result, and records the refusal it would have made", async () => {
    const rt = runtime(false, { freeze: true });
    const execute = vi.fn(async ({ id }: { id: string }) => ({ deleted: id }));
    const drop = defineTool({ name: "drop_table", effect: "destructive", execute });
    const o = await rt.startRun({ agent: "a" }).call(drop, { id: "users" });
    expect(o).toMatchObject({ ok: true, value: { deleted: "users" }, shadow: [{ stage: "admission", kind: "frozen" }] });
    expect(o.shadow![0]!.message).toContain("drop_table");
    expect(execute).toHaveBeenCalledOnce();
  });

  it("records every stage that would refuse, in stage order, and hands the tool the arguments as given", async () => {
    const rt = runtime(false);
    const seen: unknown[] = [];
    const tool = defineTool({
      name: "fx",
      effect: "read",
      input: z.object({ pair: z.string() }),
      output: z.object({ rate: z.number() }),
      execute: async (args) => (seen.push(args), { rate: "high" }) as never,
    });
    const o = await rt.startRun({ agent: "a" }).call(tool, { pair: 7 } as never);
    expect(seen).toEqual([{ pair: 7 }]);
    expect(o).toMatchObject({ ok: true, value: { rate: "high" } });
    expect(o.shadow!.map((d) => [d.stage, d.kind])).toEqual([
      ["validate-input", "invalid_input"],
      ["validate-output", "invalid_output"],
    ]);
  });

  it("records a rule's refusal with its stage, and runs the call", async () => {
    const rt = runtime(false);
    const refund = defineTool({ name: "refund", effect: "write", rules: [({ cents }: { cents: number }) => (cents > 100 ? "refunds over $1 need a person" : undefined)], execute: async () => "refunded" });
    const o = await rt.startRun({ agent: "a" }).call(refund, { cents: 500 });
    expect(o).toMatchObject({ ok: true, value: "refunded", shadow: [{ stage: "rules", kind: "policy_violation" }] });
  });

  it("asks no person: a call that needs approval runs at once, and no request is left in the queue", async () => {
    const rt = createRuntime({ clock: new ManualClock(), enforce: false, policy: { approvalWaitMs: 60_000 } });
    const drop = defineTool({ name: "drop", effect: "destructive", approval: "always", execute: async () => "gone" });
    const o = await rt.startRun({ agent: "a" }).call(drop, {});
    expect(o).toMatchObject({ ok: true, value: "gone", shadow: [{ stage: "approval", kind: "approval_required" }] });
    expect(await rt.approvals.list()).toEqual([]);
  });

  it("still replays a repeated write: an effect never runs twice because enforcement is off", async () => {
    const rt = runtime(false);
    const execute = vi.fn(async () => ({ charged: 5 }));
    const charge = defineTool({ name: "charge", effect: "write", execute });
    const run = rt.startRun({ agent: "a" });
    const first = await run.call(charge, { cents: 5 });
    const second = await run.call(charge, { cents: 5 });
    expect(execute).toHaveBeenCalledOnce();
    expect(second).toMatchObject({ ok: true, value: { charged: 5 }, replayed: true });
    expect(first.shadow).toBeUndefined();
  });

  it("judges each call on the state the run really reached: the fourth destructive call is over budget, and all run", async () => {
    const rt = runtime(false, { destructive: { maxPerRun: 3 }, maxUnverifiedDepth: 10 });
    const execute = vi.fn(async ({ n }: { n: number }) => n);
    const rm = defineTool({ name: "rm", effect: "destructive", execute });
    const run = rt.startRun({ agent: "a" });
    const outcomes = [];
    for (let n = 1; n <= 5; n++) outcomes.push(await run.call(rm, { n }));
    expect(execute).toHaveBeenCalledTimes(5);
    expect(outcomes.map((o) => o.shadow?.[0]?.kind)).toEqual([undefined, undefined, undefined, "destructive_budget_exceeded", "destructive_budget_exceeded"]);
    expect(run.mode).toBe("normal");
    expect(run.steps).toBe(5);
  });

  it("is chosen per run: an enforcing run on a shadow runtime refuses, a shadow run on an enforcing runtime does not", async () => {
    const drop = defineTool({ name: "drop", effect: "destructive", execute: async () => "gone" });
    const shadowRt = runtime(false, { freeze: true });
    expect(await shadowRt.startRun({ agent: "a", enforce: true }).call(drop, {})).toMatchObject({ ok: false, failure: { kind: "frozen" } });
    const enforcingRt = runtime(true, { freeze: true });
    expect(await enforcingRt.startRun({ agent: "a", enforce: false }).call(drop, {})).toMatchObject({ ok: true, value: "gone", shadow: [{ kind: "frozen" }] });
  });

  it("keeps a tool's own failure: it is not a decision, and the outcome says what else would have refused", async () => {
    const rt = runtime(false, { freeze: true });
    const flaky = defineTool({ name: "flaky", effect: "write", retry: false, execute: async () => { throw new Error("503"); } });
    const o = await rt.startRun({ agent: "a" }).call(flaky, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "tool_error" }, shadow: [{ kind: "frozen" }] });
  });

  it("keeps each decision in the store, with the call's arguments redacted, and counts it with enforced=\"false\"", async () => {
    const registry = new Registry();
    const rt = createRuntime({ clock: new ManualClock(), policy: { freeze: true }, enforce: false, telemetry: { metrics: registry } });
    const login = defineTool({ name: "rotate_key", effect: "write", execute: async () => "rotated" });
    const o = await rt.startRun({ agent: "ops", runId: "run-s" }).call(login, { user: "ann", password: "hunter2" });
    expect(o.ok).toBe(true);
    const [d, ...more] = await rt.store.shadow.list();
    expect(more).toEqual([]);
    expect(d).toMatchObject({ runId: "run-s", agent: "ops", callId: o.callId, tool: "rotate_key", stage: "admission", kind: "frozen", message: o.shadow![0]!.message });
    expect(JSON.stringify(d!.args)).not.toContain("hunter2");
    expect(d!.args).toMatchObject({ user: "ann" });
    await rt.startRun({ agent: "ops", enforce: true }).call(login, { user: "bob" });
    const text = await registry.metrics();
    expect(text).toContain('bulwark_refusals_total{tool="rotate_key",kind="frozen",stage="admission",enforced="false"} 1');
    expect(text).toContain('bulwark_refusals_total{tool="rotate_key",kind="frozen",stage="admission",enforced="true"} 1');
  });

  it("refuses a non-boolean enforce with a clear error", () => {
    expect(() => createRuntime({ enforce: "no" as never })).toThrow(/enforce must be true or false/);
    expect(() => createRuntime().startRun({ agent: "a", enforce: 0 as never })).toThrow(/startRun: enforce must be true or false/);
  });
});
