import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { defineTool } from "../index.js";
import type { Outcome } from "../index.js";
import { kindOf, manualRuntime } from "../../test/fixtures/runtime.js";

const approvalIdOf = (o: Outcome<unknown>) => (o.ok ? undefined : (o.failure.detail?.approvalId as string));

function dropTool(approval: "always" | "never" | ((a: { table: string }) => boolean) = "always") {
  const execute = vi.fn(async ({ table }: { table: string }) => ({ dropped: table }));
  const tool = defineTool({ name: "drop_table", effect: "destructive", approval, input: z.object({ table: z.string().trim() }), execute });
  return { tool, execute };
}

describe("approval stage", () => {
  it("leaves a durable request with who, what, arguments and run, and does not run the tool", async () => {
    const { rt, store } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const o = await run.call(tool, { table: " users " });
    expect(kindOf(o)).toBe("approval_required");
    expect(execute).not.toHaveBeenCalled();
    const [req] = await rt.approvals.list();
    expect(req).toMatchObject({ id: approvalIdOf(o), runId: run.id, tool: "drop_table", args: { table: "users" }, status: "pending" });
    // Durable: in the store, where another process sees it.
    expect((await store.approvals.get(req!.id))?.status).toBe("pending");
  });

  it("does not count approval_required toward the chain breaker, and repeats find the same request", async () => {
    const { rt } = manualRuntime();
    const { tool } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) ids.add(approvalIdOf(await run.call(tool, { table: "users" }))!);
    expect(run.mode).toBe("normal");
    expect(ids.size).toBe(1);
    expect(await rt.approvals.list()).toHaveLength(1);
  });

  it("an approved call, repeated, runs once; later repeats replay", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const id = approvalIdOf(await run.call(tool, { table: "users" }))!;
    await rt.approvals.approve(id, { by: "ops@example.com" });
    expect(await run.call(tool, { table: "users" })).toMatchObject({ ok: true, value: { dropped: "users" }, replayed: false });
    expect(await run.call(tool, { table: "users" })).toMatchObject({ ok: true, replayed: true });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("an approval covers only those arguments: another table needs its own", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    await rt.approvals.approve(approvalIdOf(await run.call(tool, { table: "logs" }))!, { by: "ops" });
    expect(kindOf(await run.call(tool, { table: "users" }))).toBe("approval_required");
    expect(execute).not.toHaveBeenCalled();
  });

  it("a denied call never runs; repeating it gets approval_denied with who and why, and insisting halts the run", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const id = approvalIdOf(await run.call(tool, { table: "users" }))!;
    await rt.approvals.deny(id, { by: "ops", reason: "production data" });
    const o = await run.call(tool, { table: "users" });
    expect(kindOf(o)).toBe("approval_denied");
    if (!o.ok) expect(o.failure.message).toMatch(/denied by ops: production data/);
    await run.call(tool, { table: "users" });
    expect(execute).not.toHaveBeenCalled();
    expect(run.mode).toBe("halted");
  });

  it("waits up to approvalWaitMs for the decision, then goes through (manual clock)", async () => {
    const { rt, clock } = manualRuntime({ approvalWaitMs: 5_000 });
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const pending = run.call(tool, { table: "users" });
    await clock.advance(300);
    const [req] = await rt.approvals.list({ status: "pending" });
    await rt.approvals.approve(req!.id, { by: "ops" });
    await clock.advance(300);
    expect(await pending).toMatchObject({ ok: true, value: { dropped: "users" } });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("returns approval_required when nobody decides within approvalWaitMs", async () => {
    const { rt, clock } = manualRuntime({ approvalWaitMs: 1_000 });
    const { tool, execute } = dropTool();
    const pending = rt.startRun({ agent: "coder" }).call(tool, { table: "users" });
    await clock.advance(1_000);
    expect(kindOf(await pending)).toBe("approval_required");
    expect(execute).not.toHaveBeenCalled();
  });

  it("a wait ends at once when the run is stopped", async () => {
    const { rt, clock } = manualRuntime({ approvalWaitMs: 60_000 });
    const { tool } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const pending = run.call(tool, { table: "users" });
    await clock.advance(10);
    await run.stop("enough");
    expect(kindOf(await pending)).toBe("run_halted");
  });

  it("a predicate decides per call; one that throws asks for approval (fail closed)", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool((a) => a.table.startsWith("prod_"));
    const run = rt.startRun({ agent: "coder" });
    expect(kindOf(await run.call(tool, { table: "tmp_1" }))).toBe("ok");
    expect(kindOf(await run.call(tool, { table: "prod_users" }))).toBe("approval_required");
    const throwing = defineTool({ name: "t", effect: "write", approval: () => { throw new Error("bug"); }, execute: async () => 1 });
    expect(kindOf(await run.call(throwing, {}))).toBe("approval_required");
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("a predicate is awaited and strictly boolean: a promise, a truthy non-true value or a hang asks for approval (fail closed)", async () => {
    const { rt, clock } = manualRuntime();
    const execute = vi.fn(async () => "done");
    const run = rt.startRun({ agent: "coder" });
    const cases: [string, (a: { n: number }) => unknown][] = [
      ["async true", async () => true],
      ["truthy text", () => "yes"],
      ["1", () => 1],
      ["null", () => null],
      ["async throw", async () => { throw new Error("bug"); }],
    ];
    for (const [name, predicate] of cases) {
      const tool = defineTool({ name: `w_${name.replace(/\W/g, "_")}`, effect: "write", approval: predicate as (a: { n: number }) => boolean, execute });
      expect([name, kindOf(await run.call(tool, { n: 1 }))]).toEqual([name, "approval_required"]);
    }
    const hanging = defineTool({ name: "hangs", effect: "write", approval: () => new Promise<boolean>(() => {}), execute });
    const pending = run.call(hanging, { n: 1 });
    await clock.advance(1_000);
    expect(kindOf(await pending)).toBe("approval_required");
    expect(execute).not.toHaveBeenCalled();
    // An async false lets the call through, as a sync one does.
    const no = defineTool({ name: "no", effect: "write", approval: async () => false, execute });
    expect(kindOf(await run.call(no, { n: 1 }))).toBe("ok");
  });

  it("a predicate gets the rules' context: the run's facts", async () => {
    const { rt } = manualRuntime();
    const read = defineTool({ name: "get_account", effect: "read", execute: async () => ({ tier: "gold" }), facts: (o) => [{ key: "tier", value: o.tier, source: "crm" }] });
    const seen: unknown[] = [];
    const refund = defineTool({
      name: "refund",
      effect: "write",
      approval: (a: { cents: number }, ctx) => {
        seen.push(ctx.fact("tier")?.value, ctx.runId, ctx.tool.name);
        return ctx.fact("tier")?.value !== "gold" && a.cents > 100;
      },
      execute: async () => "refunded",
    });
    const run = rt.startRun({ agent: "support" });
    await run.call(read, {});
    expect(kindOf(await run.call(refund, { cents: 500 }))).toBe("ok");
    expect(seen).toEqual(["gold", run.id, "refund"]);
  });

  it("a frozen call is refused before any approval request is made", async () => {
    const { rt } = manualRuntime({ freeze: true });
    const { tool } = dropTool();
    expect(kindOf(await rt.startRun({ agent: "coder" }).call(tool, { table: "users" }))).toBe("frozen");
    expect(await rt.approvals.list()).toHaveLength(0);
  });

  it("an approval is a verification gate: it lets a write through past maxUnverifiedDepth and resets the depth", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 2 });
    const blind = defineTool({ name: "blind", effect: "write", execute: async () => 1 });
    const gated = defineTool({ name: "gated", effect: "write", approval: (a: { big: boolean }) => a.big, execute: async () => 2 });
    const run = rt.startRun({ agent: "a" });
    await run.call(blind, { n: 1 });
    await run.call(blind, { n: 2 });
    expect(kindOf(await run.call(blind, { n: 3 }))).toBe("verification_required");
    // The predicate says no person looks at this one: the gate still holds.
    expect(kindOf(await run.call(gated, { big: false }))).toBe("verification_required");
    const id = approvalIdOf(await run.call(gated, { big: true }))!;
    expect(run.mode).toBe("halted"); // two verification_required in a row: the chain breaker
    // A fresh run shows the gate reset itself.
    const run2 = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    await run2.call(blind, { n: 1 });
    await run2.call(blind, { n: 2 });
    expect(kindOf(await run2.call(blind, { n: 3 }))).toBe("verification_required");
    const id2 = approvalIdOf(await run2.call(gated, { big: true }))!;
    expect(id2).not.toBe(id);
    await rt.approvals.approve(id2, { by: "ops" });
    expect(kindOf(await run2.call(gated, { big: true }))).toBe("ok");
    expect(kindOf(await run2.call(blind, { n: 3 }))).toBe("ok");
  });
});

describe("run.approval: asked ahead by a framework that asks the person itself", () => {
  it("makes the request the call will find, uses no step, and runs nothing", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const ahead = await run.approval(tool, { table: " users " });
    expect(ahead).toMatchObject({ runId: run.id, tool: "drop_table", args: { table: "users" }, status: "pending" });
    expect(ahead).not.toHaveProperty("fingerprint");
    expect(run.steps).toBe(0);
    expect(execute).not.toHaveBeenCalled();
    // Bound to the arguments as sent (see README, Exactly once), shown as parsed.
    expect(approvalIdOf(await run.call(tool, { table: " users " }))).toBe(ahead!.id);
    expect(await run.approval(tool, { table: " users " })).toMatchObject({ id: ahead!.id });
  });

  it("records the person's decision on a pending request: approved, the call runs once", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    const decided = await run.approval(tool, { table: "users" }, { approved: true, by: "ada (chat)" });
    expect(decided).toMatchObject({ status: "approved", by: "ada (chat)" });
    expect(await run.call(tool, { table: "users" })).toMatchObject({ ok: true, replayed: false });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("denied, with the reason, the call gets approval_denied; a decision already made is kept", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = dropTool();
    const run = rt.startRun({ agent: "coder" });
    await run.approval(tool, { table: "users" }, { approved: false, by: "ada", reason: "not in prod" });
    const again = await run.approval(tool, { table: "users" }, { approved: true, by: "mallory" });
    expect(again).toMatchObject({ status: "denied", by: "ada", reason: "not in prod" });
    const o = await run.call(tool, { table: "users" });
    expect(kindOf(o)).toBe("approval_denied");
    expect(o.ok ? "" : o.failure.message).toContain("not in prod");
    expect(execute).not.toHaveBeenCalled();
  });

  it("undefined when the policy asks no one, or the arguments are invalid (the call says why)", async () => {
    const { rt } = manualRuntime();
    const run = rt.startRun({ agent: "coder" });
    expect(await run.approval(dropTool("never").tool, { table: "users" })).toBeUndefined();
    expect(await run.approval(dropTool((a) => a.table === "users").tool, { table: "logs" })).toBeUndefined();
    expect(await run.approval(dropTool((a) => a.table === "users").tool, { table: "users" })).toMatchObject({ status: "pending" });
    expect(await run.approval(dropTool().tool, { table: 42 } as never)).toBeUndefined();
    expect(await rt.approvals.list()).toHaveLength(1);
  });
});

describe("run.approval and rules", () => {
  const booking = (rule: (a: { flight: string }) => string | { approval: string } | undefined) => {
    const execute = vi.fn(async ({ flight }: { flight: string }) => ({ booked: flight }));
    return { execute, tool: defineTool({ name: "book", effect: "write", input: z.object({ flight: z.string() }), rules: [rule], execute }) };
  };

  it("a rule that asks a person is asked ahead, with its reason", async () => {
    const { rt } = manualRuntime();
    const { tool } = booking((a) => (a.flight.startsWith("INTL") ? { approval: "international changes need a supervisor" } : undefined));
    const run = rt.startRun({ agent: "travel" });
    expect(await run.approval(tool, { flight: "DOM-1" })).toBeUndefined();
    expect(await run.approval(tool, { flight: "INTL-9" })).toMatchObject({ status: "pending", why: "international changes need a supervisor" });
  });

  it("a call a rule refuses is not put to a person", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = booking(() => "no changes at weekends");
    const run = rt.startRun({ agent: "travel" });
    expect(await run.approval(tool, { flight: "INTL-9" })).toBeUndefined();
    expect(await rt.approvals.list()).toEqual([]);
    expect(kindOf(await run.call(tool, { flight: "INTL-9" }))).toBe("policy_violation");
    expect(execute).not.toHaveBeenCalled();
  });
});

it("run.approval in shadow mode asks no one: the call would not wait", async () => {
  const { rt } = manualRuntime();
  const run = rt.startRun({ agent: "coder", enforce: false });
  expect(await run.approval(dropTool().tool, { table: "users" })).toBeUndefined();
});
