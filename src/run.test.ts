import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createRuntime, defineTool, ManualClock, memoryStore, ToolError, type Tool } from "bulwark";
import { canonicalJson, digest } from "./canonical-json.js";

function runtime(policy = {}) {
  const clock = new ManualClock();
  const rt = createRuntime({ clock, policy, random: () => 0.5, onError: (e) => { throw e; } });
  return { rt, clock };
}

describe("a guarded call, end to end", () => {
  it("returns the value of a read tool as an outcome", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a" });
    const lookup = defineTool({ name: "lookup", effect: "read", input: z.object({ id: z.string() }), execute: async ({ id }) => ({ id, name: "Ada" }) });
    const o = await run.call(lookup, { id: "7" });
    expect(o).toMatchObject({ ok: true, value: { id: "7", name: "Ada" }, replayed: false });
    expect(typeof o.callId).toBe("string");
  });

  it("refuses invalid arguments before executing, naming the field", async () => {
    const { rt } = runtime();
    const fn = vi.fn(async () => 1);
    const tool = defineTool({ name: "refund", effect: "write", input: z.object({ amount: z.number().positive(), order: z.string() }), execute: fn });
    const o = await rt.startRun({ agent: "a" }).call(tool, { amount: -5 } as never);
    expect(o.ok).toBe(false);
    if (o.ok) return;
    expect(o.failure.kind).toBe("invalid_input");
    expect(o.failure.message).toContain("`amount`");
    expect(o.failure.message).toContain("`order`");
    expect(fn).not.toHaveBeenCalled();
  });

  it("rejects a malformed response at the boundary", async () => {
    const { rt } = runtime();
    const tool = defineTool({ name: "balance", effect: "read", output: z.object({ cents: z.number().int() }), execute: async () => ({ amount: "12.00" }) as never });
    const o = await rt.startRun({ agent: "a" }).call(tool, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_output" } });
    if (!o.ok) expect(o.failure.message).toContain("`cents`");
  });

  it("rejects a response JSON cannot carry", async () => {
    const { rt } = runtime();
    const tool = defineTool({ name: "big", effect: "read", execute: async () => ({ n: 10n }) });
    const o = await rt.startRun({ agent: "a" }).call(tool, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_output" } });
    if (!o.ok) expect(o.failure.message).toContain("n is a bigint");
  });

  it("rejects an implausible response through the semantic check", async () => {
    const { rt } = runtime();
    const tool = defineTool({
      name: "fx",
      effect: "read",
      execute: async () => ({ eurUsd: 108 }),
      check: (o: { eurUsd: number }) => (o.eurUsd > 10 ? `EUR/USD of ${o.eurUsd} is off by orders of magnitude` : undefined),
    });
    const o = await rt.startRun({ agent: "a" }).call(tool, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "implausible_output", detail: { reason: "EUR/USD of 108 is off by orders of magnitude" } } });
  });
});

describe("a tool that holds the event loop past its time limit", () => {
  // Busy for `ms` of real time: no timer can run meanwhile (a synchronous parser, a CPU-bound loop).
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };

  it("is reported as past its limit, its effect recorded: a repeat replays, the tool does not run twice", async () => {
    const rt = createRuntime();
    const execute = vi.fn((a: { id: string }) => (busy(150), { charged: a.id }));
    const charge = defineTool({ name: "charge", effect: "write", timeoutMs: 50, execute });
    const run = rt.startRun({ agent: "billing" });
    const o = await run.call(charge, { id: "c1" });
    expect(o.ok).toBe(false);
    if (!o.ok) {
      expect(o.failure).toMatchObject({ kind: "timeout", stage: "execute", retryable: false, detail: { timeoutMs: 50, effect: "happened" } });
      expect(o.failure.message).toMatch(/^charge answered after \d+ms, past its time limit of 50ms: .*Its effect took place and is recorded\./);
      expect((o.failure.detail as { tookMs: number }).tookMs).toBeGreaterThanOrEqual(150);
    }
    expect(await rt.store.mutations.list(run.id)).toMatchObject([{ tool: "charge", output: { charged: "c1" } }]);
    expect(await run.call(charge, { id: "c1" })).toMatchObject({ ok: false, replayed: true });
    expect(execute).toHaveBeenCalledTimes(1);
    await rt.close();
  });

  it("an async tool that blocks before it answers is reported so too; one within its limit is not", async () => {
    const rt = createRuntime();
    const run = rt.startRun({ agent: "reader" });
    const slow = defineTool({ name: "parse", effect: "read", timeoutMs: 50, execute: async () => (busy(120), "parsed") });
    expect(await run.call(slow, {})).toMatchObject({ ok: false, failure: { kind: "timeout", detail: { effect: "happened" } } });
    const quick = defineTool({ name: "parse_small", effect: "read", timeoutMs: 1_000, execute: async () => (busy(5), "parsed") });
    expect(await run.call(quick, {})).toMatchObject({ ok: true, value: "parsed" });
    await rt.close();
  });
});

describe("idempotency through the run", () => {
  const charges: unknown[] = [];
  const pay = defineTool({
    name: "pay",
    effect: "write",
    input: z.object({ invoice: z.string(), cents: z.number() }),
    execute: async (a, ctx) => {
      charges.push({ ...a, key: ctx.idempotencyKey });
      return { chargeId: `ch_${charges.length}` };
    },
  });

  it("replays a repeated write without executing it, whatever the key order, using no step", async () => {
    charges.length = 0;
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a" });
    const first = await run.call(pay, { invoice: "inv-1", cents: 500 });
    const again = await run.call(pay, { cents: 500, invoice: "inv-1" } as never);
    expect(first).toMatchObject({ ok: true, value: { chargeId: "ch_1" }, replayed: false });
    expect(again).toMatchObject({ ok: true, value: { chargeId: "ch_1" }, replayed: true });
    expect(charges).toHaveLength(1);
    expect(run.steps).toBe(1);
  });

  it("keys by run by default: another run's same intent executes", async () => {
    charges.length = 0;
    const { rt } = runtime();
    await rt.startRun({ agent: "a" }).call(pay, { invoice: "inv-1", cents: 500 });
    await rt.startRun({ agent: "a" }).call(pay, { invoice: "inv-1", cents: 500 });
    expect(charges).toHaveLength(2);
  });

  it("an explicit key is global within the store and conflicts on other arguments", async () => {
    charges.length = 0;
    const { rt } = runtime();
    const payInvoice = defineTool({ ...pay.spec, name: "pay-invoice", idempotencyKey: (a: { invoice: string }) => `invoice:${a.invoice}` });
    const a = await rt.startRun({ agent: "a" }).call(payInvoice, { invoice: "inv-9", cents: 100 });
    const b = await rt.startRun({ agent: "b" }).call(payInvoice, { invoice: "inv-9", cents: 100 });
    const c = await rt.startRun({ agent: "c" }).call(payInvoice, { invoice: "inv-9", cents: 999 });
    expect(a).toMatchObject({ ok: true, replayed: false });
    expect(b).toMatchObject({ ok: true, replayed: true, value: (a as { value: unknown }).value });
    expect(c).toMatchObject({ ok: false, failure: { kind: "idempotency_conflict" } });
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ key: "invoice:inv-9" });
  });

  it("concurrent duplicates wait for the first and get its outcome", async () => {
    charges.length = 0;
    const { rt, clock } = runtime();
    const slow = defineTool({ ...pay.spec, name: "slow-pay", execute: async (a: { invoice: string }, ctx) => { await clock.sleep(100); return pay.spec.execute(a as never, ctx); } });
    const run = rt.startRun({ agent: "a" });
    const all = Promise.all([1, 2, 3].map(() => run.call(slow, { invoice: "inv-2", cents: 1 })));
    await clock.advance(100);
    const outcomes = await all;
    expect(charges).toHaveLength(1);
    expect(outcomes.map((o) => o.ok && o.value)).toEqual([{ chargeId: "ch_1" }, { chargeId: "ch_1" }, { chargeId: "ch_1" }]);
    expect(outcomes.map((o) => o.replayed)).toEqual([false, true, true]);
    expect(run.steps).toBe(1);
  });

  it("a write the tool says failed (a ToolError) releases its key: the repeat runs again with the same key", async () => {
    const keys: (string | undefined)[] = [];
    let n = 0;
    const { rt } = runtime({ maxConsecutiveFailures: 5 });
    const flaky = defineTool({ name: "transfer", effect: "write", retry: false, execute: async (_: { to: string }, ctx) => { keys.push(ctx.idempotencyKey); if (++n === 1) throw new ToolError("503 from the bank: nothing was done"); return "done"; } });
    const run = rt.startRun({ agent: "a" });
    expect((await run.call(flaky, { to: "x" })).ok).toBe(false);
    expect(await run.call(flaky, { to: "x" })).toMatchObject({ ok: true, replayed: false });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
  });

  it("a write that may have landed (an error the tool did not declare, a timeout) keeps its claim: no repeat runs it twice", async () => {
    let n = 0;
    const { rt, clock } = runtime({ maxConsecutiveFailures: 5 });
    const transfer = defineTool({ name: "transfer", effect: "write", timeoutMs: 1_000, execute: async ({ slow }: { slow: boolean }) => { n++; if (slow) return new Promise<string>(() => {}); throw new Error("connection reset"); } });
    const run = rt.startRun({ agent: "a" });
    const reset = await run.call(transfer, { slow: false });
    expect(reset).toMatchObject({ ok: false, failure: { kind: "tool_error", retryable: false, detail: { effectUnknown: true } } });
    expect(n).toBe(1); // not retried: the default retries apply only where a repeat is known to be harmless
    expect(await run.call(transfer, { slow: false })).toMatchObject({ ok: false, failure: { kind: "write_unverified", detail: { unsettled: true } } });
    expect(n).toBe(1);
    const pending = run.call(transfer, { slow: true });
    await clock.advance(1_000);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: "timeout", retryable: false, detail: { effectUnknown: true } } });
    expect(n).toBe(2);
    expect((await run.call(transfer, { slow: true })).ok).toBe(false);
    expect(n).toBe(2);
  });

  it("keeps completed keys for the retention period only", async () => {
    charges.length = 0;
    const clock = new ManualClock();
    const rt = createRuntime({ clock, idempotency: { retentionMs: 1_000 } });
    const payInvoice = defineTool({ ...pay.spec, name: "pay-once", idempotencyKey: (a: { invoice: string }) => a.invoice });
    await rt.startRun({ agent: "a" }).call(payInvoice, { invoice: "i", cents: 1 });
    await clock.advance(999);
    expect(await rt.startRun({ agent: "a" }).call(payInvoice, { invoice: "i", cents: 1 })).toMatchObject({ replayed: true });
    await clock.advance(1);
    expect(await rt.startRun({ agent: "a" }).call(payInvoice, { invoice: "i", cents: 1 })).toMatchObject({ replayed: false });
    expect(charges).toHaveLength(2);
  });

  it("a claim left by a dead process, with no probe to settle it, is never executed by any later caller", async () => {
    const store = memoryStore();
    const clock = new ManualClock();
    const rt = createRuntime({ store, clock, policy: { maxConsecutiveFailures: 10 } });
    const fn = vi.fn(async () => "moved");
    const move = defineTool({ name: "move_funds", effect: "write", idempotencyKey: (a: { id: string }) => a.id, execute: fn });
    // a process claimed the key, may have done the effect, and died before recording it
    const fingerprint = digest(canonicalJson({ id: "t-1" }));
    await store.idempotency.claim({ scope: "move_funds", key: "t-1", fingerprint, owner: "dead", runId: "r0", now: clock.now(), leaseMs: 1_000, retentionMs: 86_400_000 });
    for (let i = 0; i < 3; i++) {
      await clock.advance(5 * 60 * 1000); // past any lease, the dead one's and the last refuser's
      const o = await rt.startRun({ agent: "a" }).call(move, { id: "t-1" });
      expect(o).toMatchObject({ ok: false, failure: { kind: "write_unverified", detail: { unsettled: true } } });
    }
    expect(fn).not.toHaveBeenCalled();
    await rt.close();
  });

  it("refuses arguments that cannot be keyed", async () => {
    const { rt } = runtime();
    const o = await rt.startRun({ agent: "a" }).call(defineTool({ name: "w", effect: "write", execute: async () => 1 }), { n: 1n });
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_input" } });
  });
});

describe("the chain breaker and run limits", () => {
  const failing = defineTool({ name: "crm", effect: "read", retry: false, breaker: false, execute: async () => { throw new ToolError("500 from CRM"); } });
  const fine = defineTool({ name: "echo", effect: "read", execute: async (x: unknown) => x });

  it("halts the run after maxConsecutiveFailures failures in a row; later calls get run_halted with the reason", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a" });
    await run.call(failing, {});
    expect(run.mode).toBe("normal");
    await run.call(failing, {});
    expect(run.mode).toBe("halted");
    const o = await run.call(fine, 1);
    expect(o).toMatchObject({ ok: false, failure: { kind: "run_halted" } });
    if (!o.ok) expect(o.failure.message).toContain("the last 2 calls failed (crm: tool_error, crm: tool_error)");
  });

  it("a success resets the streak", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a" });
    await run.call(failing, {});
    await run.call(fine, 1);
    await run.call(failing, {});
    expect(run.mode).toBe("normal");
  });

  it("approval_required does not count toward the chain", async () => {
    const { rt } = runtime({ maxConsecutiveFailures: 1 });
    const run = rt.startRun({ agent: "a", policy: { countsTowardChain: (k) => k !== "approval_required" && k !== "tool_error" } });
    await run.call(failing, {});
    expect(run.mode).toBe("normal");
  });

  it("refused mutations count: an agent insisting on a frozen action is halted", async () => {
    const { rt } = runtime();
    const drop = defineTool({ name: "drop_table", effect: "destructive", execute: vi.fn() });
    const run = rt.startRun({ agent: "a", policy: { freeze: true } });
    expect(await run.call(drop, { table: "users" })).toMatchObject({ ok: false, failure: { kind: "frozen" } });
    await run.call(drop, { table: "users" });
    expect(run.mode).toBe("halted");
    expect(run.reason).toContain("drop_table: frozen");
    expect(drop.spec.execute).not.toHaveBeenCalled();
  });

  it("past the step limit the call gets step_limit, not run_halted; replays use no step", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a", policy: { maxSteps: 2 } });
    const w = defineTool({ name: "w", effect: "write", execute: async () => "ok" });
    await run.call(w, { a: 1 });
    await run.call(w, { a: 1 }); // replay
    await run.call(fine, 1);
    expect(await run.call(fine, 2)).toMatchObject({ ok: false, failure: { kind: "step_limit" } });
  });

  it("after the deadline a call gets deadline_exceeded", async () => {
    const { rt, clock } = runtime();
    const run = rt.startRun({ agent: "a", policy: { deadlineMs: 1_000 } });
    expect((await run.call(fine, 1)).ok).toBe(true);
    await clock.advance(1_000);
    expect(await run.call(fine, 1)).toMatchObject({ ok: false, failure: { kind: "deadline_exceeded" } });
  });

  it("a stopped run executes nothing more", async () => {
    const { rt } = runtime();
    const fn = vi.fn(async () => 1);
    const run = rt.startRun({ agent: "a" });
    await run.stop("the user said stop");
    expect(await run.call(defineTool({ name: "t", effect: "read", execute: fn }), {})).toMatchObject({ ok: false, failure: { kind: "run_halted" } });
    expect(fn).not.toHaveBeenCalled();
  });

  it("rejects nonsense policy values when the runtime or the run is made", () => {
    expect(() => createRuntime({ policy: { maxSteps: -1 } })).toThrow("maxSteps must be a whole number of at least 1, not -1");
    const rt = createRuntime();
    expect(() => rt.startRun({ agent: "a", policy: { destructive: { maxPerRun: -1 } } })).toThrow("destructive.maxPerRun");
  });
});

describe("the runtime", () => {
  it("shares a tool's breaker across runs: one run's failures cut the tool off for the next", async () => {
    const { rt } = runtime({ maxConsecutiveFailures: 100 });
    const fn = vi.fn(async () => { throw new Error("503"); });
    const api = defineTool({ name: "api", effect: "read", retry: false, breaker: { minCalls: 3, windowSize: 5 }, execute: fn });
    for (let i = 0; i < 3; i++) await rt.startRun({ agent: "a" }).call(api, {});
    const o = await rt.startRun({ agent: "b" }).call(api, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "breaker_open" } });
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it("adopts a breaker opened by another process on the same store", async () => {
    const store = memoryStore();
    const clock = new ManualClock();
    const fn = vi.fn(async () => { throw new Error("503"); });
    const api = defineTool({ name: "api", effect: "read", retry: false, breaker: { minCalls: 2, windowSize: 2 }, execute: fn });
    const one = createRuntime({ store, clock, breakerSyncMs: 10 });
    const two = createRuntime({ store, clock, breakerSyncMs: 10 });
    const run2 = two.startRun({ agent: "b" });
    const ok = defineTool({ name: "api", effect: "read", execute: async () => "up" });
    expect((await run2.call(ok, {})).ok).toBe(true); // two knows the tool, breaker closed
    const run1 = one.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    await run1.call(api, {});
    await run1.call(api, {});
    await new Promise((r) => setTimeout(r, 50)); // the sync interval is real time
    expect(await run2.call(ok, {})).toMatchObject({ ok: false, failure: { kind: "breaker_open" } });
    await Promise.all([one.close(), two.close()]);
  });

  it("the escalation tool works on a halted run and hands the run off with its arguments as the reason", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "airline" });
    const broken = defineTool({ name: "broken", effect: "read", retry: false, execute: async () => { throw new ToolError("500", { retryable: false }); } });
    const transfer = vi.fn(async (a: { summary: string }) => `transferred: ${a.summary}`);
    const toHuman = defineTool({ name: "transfer_to_human_agents", effect: "write", escalation: true, execute: transfer });
    await run.call(broken, {});
    await run.call(broken, {});
    expect(run.mode).toBe("halted");
    expect(await run.call(broken, {})).toMatchObject({ ok: false, failure: { kind: "run_halted" } });
    const o = await run.call(toHuman, { summary: "customer wants to cancel a basic economy booking" });
    expect(o).toMatchObject({ ok: true, value: "transferred: customer wants to cancel a basic economy booking" });
    expect(run.handoff?.reason).toBe('the agent called transfer_to_human_agents: {"summary":"customer wants to cancel a basic economy booking"}');
    // Handed off, the way to a person still works (the handoff record stays the first).
    const handed = rt.startRun({ agent: "airline" });
    await handed.handOff("low confidence");
    expect(await handed.call(broken, {})).toMatchObject({ ok: false, failure: { kind: "handed_off" } });
    expect(await handed.call(toHuman, { summary: "again" })).toMatchObject({ ok: true });
    expect(handed.handoff?.reason).toBe("low confidence");
    // On a normal run it hands the run off: later calls are refused as handed_off.
    const fresh = rt.startRun({ agent: "airline" });
    await fresh.call(toHuman, { summary: "asked for a person" });
    expect(fresh.mode).toBe("handed_off");
    expect(await fresh.call(broken, {})).toMatchObject({ ok: false, failure: { kind: "handed_off" } });
  });

  it("the escalation tool works on a run stopped from another process", async () => {
    const store = memoryStore();
    const rt = createRuntime({ store, clock: new ManualClock() });
    const run = rt.startRun({ agent: "airline" });
    const toHuman = defineTool({ name: "transfer_to_human_agents", effect: "write", escalation: true, execute: async () => "ok" });
    const write = defineTool({ name: "w", effect: "write", execute: async () => "ok" });
    await run.call(defineTool({ name: "r", effect: "read", execute: async () => 1 }), {});
    expect(await store.runs.requestStop(run.id, "ops", 0)).toBe(true);
    expect(await run.call(write, {})).toMatchObject({ ok: false, failure: { kind: "run_halted" } });
    expect(await run.call(toHuman, { summary: "x" })).toMatchObject({ ok: true });
    await rt.close();
  });

  it("every failure says which stage produced it", async () => {
    const { rt } = runtime({ maxConsecutiveFailures: 100, confidence: { penalties: { failure: 0, transientFailure: 0, writeUnverified: 0, contradiction: 0 } } });
    const run = rt.startRun({ agent: "a" });
    const stageOf = async (tool: Tool, args: unknown) => {
      const o = await run.call(tool, args);
      return o.ok ? "ok" : `${o.failure.kind}@${o.failure.stage}`;
    };
    const typed = defineTool({ name: "typed", effect: "read", input: z.object({ n: z.number() }), execute: async () => 1 });
    const ruled = defineTool({ name: "ruled", effect: "write", rules: [() => "never"], execute: async () => 1 });
    const asks = defineTool({ name: "asks", effect: "write", approval: "always", execute: async () => 1 });
    const keyed = defineTool({ name: "keyed", effect: "write", idempotencyKey: () => "k", execute: async () => 1 });
    const broken = defineTool({ name: "broken", effect: "read", retry: false, execute: async () => { throw new ToolError("500", { retryable: false }); } });
    const bad = defineTool({ name: "bad", effect: "read", output: z.number(), execute: async () => "x" as never });
    const fact = (v: string) => defineTool({ name: `fact_${v}`, effect: "read", execute: async () => v, facts: (o) => [{ key: "k", value: o, source: `s_${v}` }] });
    const unconfirmed = defineTool({ name: "unconfirmed", effect: "write", execute: async () => 1, verify: () => false });
    expect(await stageOf(typed, { n: "1" })).toBe("invalid_input@validate-input");
    expect(await stageOf(ruled, {})).toBe("policy_violation@rules");
    expect(await stageOf(asks, {})).toBe("approval_required@approval");
    await stageOf(keyed, { a: 1 });
    expect(await stageOf(keyed, { a: 2 })).toBe("idempotency_conflict@idempotency");
    expect(await stageOf(broken, {})).toBe("tool_error@execute");
    expect(await stageOf(bad, {})).toBe("invalid_output@validate-output");
    await stageOf(fact("a"), {});
    expect(await stageOf(fact("b"), {})).toBe("contradiction@facts");
    expect(await stageOf(unconfirmed, {})).toBe("write_unverified@verify");
    await run.stop("enough");
    expect(await stageOf(typed, { n: 1 })).toBe("run_halted@admission");
  });

  it("a bad store description is a clear error from createRuntime itself", () => {
    expect(() => createRuntime({ store: "mongodb://nope" })).toThrow(/unknown store "mongodb:\/\/nope"; expected "memory", "sqlite:<path>"/);
    expect(() => createRuntime({ store: "sqlite:" })).toThrow('"sqlite:" needs a path');
  });

  it("an unreachable database is a clear error from ready(), not a hang", async () => {
    const rt = createRuntime({ store: "postgres://postgres@127.0.0.1:1/test" });
    await expect(rt.ready()).rejects.toThrow(/cannot reach PostgreSQL at postgres:\/\/postgres@127.0.0.1:1\/test/);
  });

  it("close cancels calls in flight through their signal and waits for them to be recorded, not for executions that already timed out", async () => {
    const rt = createRuntime();
    const run = rt.startRun({ agent: "a" });
    let seen: AbortSignal | undefined;
    const slow = defineTool({
      name: "slow",
      effect: "read",
      execute: (_: object, ctx) => new Promise<string>((_r, reject) => (seen = ctx.signal).addEventListener("abort", () => reject(ctx.signal.reason))),
    });
    const hung = defineTool({ name: "hung", effect: "read", timeoutMs: 20, retry: false, execute: () => new Promise(() => {}) });
    expect(await run.call(hung, {})).toMatchObject({ ok: false, failure: { kind: "timeout" } });
    const pending = run.call(slow, {});
    await new Promise((r) => setTimeout(r, 10));
    await rt.close();
    expect(seen?.aborted).toBe(true);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: "runtime_closed" } });
  });
});

describe("calls in flight and the run's cancellation", () => {
  it("a stop cancels every read and keyed write in flight through its signal, an escalation only the runtime's close does; twenty of each at once raise no listener warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const rt = createRuntime();
      const signals = new Map<string, AbortSignal>();
      const held = (name: string, effect: "read" | "write", escalation = false) =>
        defineTool({
          name,
          effect,
          escalation,
          execute: (args: { i: number }, ctx) =>
            new Promise<never>((_r, reject) => {
              signals.set(`${name}${args.i}`, ctx.signal);
              ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
            }),
        });
      const [read, write, escalate] = [held("read", "read"), held("write", "write"), held("escalate", "write", true)];
      const run = rt.startRun({ agent: "a", policy: { maxUnverifiedDepth: 100 } });
      const calls = Array.from({ length: 20 }, (_, i) => [run.call(read, { i }), run.call(write, { i })]).flat();
      const escalation = run.call(escalate, { i: 0 });
      await vi.waitFor(() => expect(signals.size).toBe(41));
      await run.stop("enough");
      const stopped = await Promise.all(calls);
      expect(stopped.every((o) => !o.ok)).toBe(true);
      expect([...signals].filter(([k, s]) => !k.startsWith("escalate") && s.aborted)).toHaveLength(40);
      expect(signals.get("escalate0")!.aborted).toBe(false);
      await rt.close();
      expect(signals.get("escalate0")!.aborted).toBe(true);
      expect((await escalation).ok).toBe(false);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("run.call never leaves the process an unhandled rejection", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);

  it("a non-tool rejects (a programming error) and is caught by its caller; a throwing policy hook and an unreachable store are outcomes", async () => {
    process.on("unhandledRejection", onUnhandled);
    try {
      const throwing = createRuntime({ onError: () => {}, policy: { countsTowardChain: () => { throw new Error("hook broke"); } } });
      const run = throwing.startRun({ agent: "a" });
      await expect(run.call({ name: "nope" } as never, {})).rejects.toThrow(/must be made by defineTool/);
      const failing = defineTool({ name: "f", effect: "read", retry: false, execute: async () => { throw new ToolError("500", { retryable: false }); } });
      expect(await run.call(failing, {})).toMatchObject({ ok: false, failure: { kind: "tool_error" } });
      const write = defineTool({ name: "w", effect: "write", execute: async () => 1 });
      expect((await run.call(write, {})).ok).toBe(true);

      const down = createRuntime({ store: "postgres://nobody@127.0.0.1:1/none", onError: () => {} });
      const lost = down.startRun({ agent: "a" });
      await expect(lost.ready()).rejects.toThrow(/cannot reach PostgreSQL/);
      expect(await lost.call(write, {})).toMatchObject({ ok: false, failure: { kind: "store_unavailable" } });
      expect(await lost.call(failing, {})).toMatchObject({ ok: false, failure: { kind: "store_unavailable" } });
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      await Promise.all([throwing.close(), down.close()]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("durable runs in one store", () => {
  it("a run resumed by id in another runtime carries its mode, steps, budget, depth, confidence, facts and handoff", async () => {
    const store = memoryStore();
    const one = createRuntime({ store, policy: { destructive: { maxPerRun: 1 }, maxConsecutiveFailures: 5 } });
    const run = one.startRun({ agent: "bot", runId: "conv-1" });
    const drop = defineTool({ name: "drop", effect: "destructive", execute: async (a: { t: string }) => a, verify: async () => true });
    const balance = defineTool({ name: "balance", effect: "read", execute: async () => 10, facts: (v) => [{ key: "balance", value: v, source: "ledger" }] });
    expect((await run.call(drop, { t: "a" })).ok).toBe(true);
    expect((await run.call(balance, {})).ok).toBe(true);
    expect(await run.call(drop, { t: "b" })).toMatchObject({ ok: false, failure: { kind: "destructive_budget_exceeded" } });

    const two = createRuntime({ store, policy: { destructive: { maxPerRun: 1 }, maxConsecutiveFailures: 5 } });
    const again = two.startRun({ agent: "bot", runId: "conv-1" });
    await again.ready();
    expect([again.mode, again.steps, again.confidence]).toEqual(["read_only", 2, 1]);
    expect(again.destructive).toEqual({ used: 1, inFlight: 0, max: 1 });
    expect(again.fact("balance")?.value).toBe(10);
    // The same destructive call again is a replay (same key, already done): it replays; a new one is refused.
    expect(await again.call(drop, { t: "a" })).toMatchObject({ ok: true, replayed: true });
    expect(await again.call(drop, { t: "c" })).toMatchObject({ ok: false, failure: { kind: "read_only" } });
    // A person's review renews the budget, from any runtime.
    const reviewed = await one.reviewRun("conv-1", { by: "ann", note: "drops checked" });
    expect(reviewed).toMatchObject({ mode: "normal", reviews: [{ by: "ann", note: "drops checked" }] });
    expect(await again.call(drop, { t: "c" })).toMatchObject({ ok: true, replayed: false });
    await expect(two.reviewRun("nope", { by: "ann" })).rejects.toThrow(/no run nope/);
    await expect(two.reviewRun("conv-1", { by: "" })).rejects.toThrow(/say who reviewed/);
    await again.end();
    expect(() => one.startRun({ agent: "bot", runId: "" })).toThrow(/runId must be a text/);
    await expect(one.startRun({ agent: "bot", runId: "conv-1" }).ready()).rejects.toThrow(/has ended/);
    await Promise.all([one.close(), two.close()]);
  });
});
