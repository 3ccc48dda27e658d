import { describe, expect, it, vi } from "vitest";
import { defineTool } from "../index.js";
import type { Failure, Outcome } from "../index.js";
import { manualRuntime } from "../../test/fixtures/runtime.js";

const failureOf = (o: Outcome<unknown>): Failure => {
  if (o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o)}`);
  return o.failure;
};

/** A tiny key-value "database" whose writes can be made to silently not stick. */
function kv() {
  const rows = new Map<string, string>();
  let lose = false;
  const put = defineTool({
    name: "put",
    effect: "write",
    retry: false,
    execute: async ({ k, v }: { k: string; v: string }) => {
      if (!lose) rows.set(k, v);
      return { ok: true };
    },
    verify: async ({ k, v }) => rows.get(k) === v,
  });
  return { rows, put, loseWrites: (b: boolean) => (lose = b) };
}

describe("verify: read-your-writes", () => {
  it("passes a write whose read-back matches, and marks the streak verified", async () => {
    const { rt } = manualRuntime();
    const { put } = kv();
    const run = rt.startRun({ agent: "a" });
    expect(await run.call(put, { k: "a", v: "1" })).toMatchObject({ ok: true });
    expect(run.unverifiedDepth).toBe(0);
  });

  it("fails a write whose effect did not stick as write_unverified, with a message that says not to claim it", async () => {
    const { rt } = manualRuntime();
    const db = kv();
    db.loseWrites(true);
    const o = await rt.startRun({ agent: "a" }).call(db.put, { k: "a", v: "1" });
    const f = failureOf(o);
    expect(f.kind).toBe("write_unverified");
    expect(f.retryable).toBe(false);
    expect(f.message).toContain("could not be confirmed");
    expect(f.message).toContain("Do not tell the user it was done");
  });

  it("uses the reason a probe gives as text", async () => {
    const { rt } = manualRuntime();
    const tool = defineTool({ name: "w", effect: "write", execute: async () => 1, verify: async () => "row 7 still has the old price" });
    const f = failureOf(await rt.startRun({ agent: "a" }).call(tool, {}));
    expect(f.kind).toBe("write_unverified");
    expect(f.message).toContain("row 7 still has the old price");
  });

  it("does not count a probe that throws as a success", async () => {
    const { rt } = manualRuntime();
    const tool = defineTool({ name: "w", effect: "write", execute: async () => 1, verify: async () => { throw new Error("replica unreachable"); } });
    const f = failureOf(await rt.startRun({ agent: "a" }).call(tool, {}));
    expect(f.kind).toBe("write_unverified");
    expect(f.message).toContain("replica unreachable");
  });

  it("does not count a probe that never answers as a success (timeout on the manual clock)", async () => {
    const { rt, clock } = manualRuntime();
    const tool = defineTool({ name: "w", effect: "write", timeoutMs: 500, execute: async () => 1, verify: () => new Promise<boolean>(() => {}) });
    const pending = rt.startRun({ agent: "a" }).call(tool, {});
    await clock.advance(499);
    let settled = false;
    void pending.then(() => (settled = true));
    await clock.advance(0);
    expect(settled).toBe(false);
    await clock.advance(1);
    const f = failureOf(await pending);
    expect(f.kind).toBe("write_unverified");
    expect(f.message).toContain("did not answer within 500ms");
  });

  it("treats a truthy non-true answer (1, 'yes' is a reason) as not confirmed", async () => {
    const { rt } = manualRuntime();
    const tool = defineTool({ name: "w", effect: "write", execute: async () => 1, verify: async () => 1 as unknown as boolean });
    expect(failureOf(await rt.startRun({ agent: "a" }).call(tool, {})).kind).toBe("write_unverified");
  });

  it("gives the probe the arguments, the response and the call's idempotency key", async () => {
    const { rt } = manualRuntime();
    const probe = vi.fn(async () => true);
    let executedWith: string | undefined;
    const tool = defineTool({ name: "w", effect: "write", execute: async (_a, ctx) => { executedWith = ctx.idempotencyKey; return { id: 9 }; }, verify: probe });
    const run = rt.startRun({ agent: "a" });
    await run.call(tool, { x: 1 });
    expect(probe).toHaveBeenCalledTimes(1);
    const [args, output, ctx] = probe.mock.calls[0] as unknown as [unknown, unknown, { idempotencyKey?: string; runId: string }];
    expect(args).toEqual({ x: 1 });
    expect(output).toEqual({ id: 9 });
    expect(ctx.runId).toBe(run.id);
    expect(ctx.idempotencyKey).toBeTruthy();
    expect(ctx.idempotencyKey).toBe(executedWith);
  });

  it("never probes a read tool", async () => {
    const { rt } = manualRuntime();
    const probe = vi.fn(async () => false);
    const tool = defineTool({ name: "r", effect: "read", execute: async () => 1, verify: probe });
    expect(await rt.startRun({ agent: "a" }).call(tool, {})).toMatchObject({ ok: true });
    expect(probe).not.toHaveBeenCalled();
  });

  it("counts unverified writes toward the chain breaker: two in a row halt the run", async () => {
    const { rt } = manualRuntime();
    const db = kv();
    db.loseWrites(true);
    const run = rt.startRun({ agent: "a" });
    await run.call(db.put, { k: "a", v: "1" });
    await run.call(db.put, { k: "b", v: "2" });
    expect(run.mode).toBe("halted");
    expect(run.reason).toContain("write_unverified");
    const f = failureOf(await run.call(db.put, { k: "c", v: "3" }));
    expect(f.kind).toBe("run_halted");
  });

  it("records an unconfirmed write in the ledger of mutations, so rollback knows of it", async () => {
    const { rt, store } = manualRuntime();
    const db = kv();
    db.loseWrites(true);
    const run = rt.startRun({ agent: "a" });
    await run.call(db.put, { k: "a", v: "1" });
    const ms = await store.mutations.list(run.id);
    expect(ms).toHaveLength(1);
    expect(ms[0]).toMatchObject({ tool: "put", status: "done", args: { k: "a", v: "1" } });
  });

  it("keeps the claim of an unconfirmed write: a lagging read-back never makes a repeat run it twice", async () => {
    const { rt } = manualRuntime();
    // The write lands, but reads see it only later (a replica that lags).
    const rows = new Map<string, string>();
    let visible = false;
    let runs = 0;
    const put = defineTool({
      name: "put",
      effect: "write",
      execute: async ({ k, v }: { k: string; v: string }) => {
        runs++;
        rows.set(k, v);
        return { ok: true };
      },
      verify: async ({ k, v }) => visible && rows.get(k) === v,
      idempotencyKey: ({ k, v }) => `${k}=${v}`,
    });
    const run = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 5 } });
    expect(failureOf(await run.call(put, { k: "a", v: "1" })).kind).toBe("write_unverified");
    // Repeated while the read-back still lags: not run again, still unconfirmed.
    const repeat = failureOf(await run.call(put, { k: "a", v: "1" }));
    expect(repeat).toMatchObject({ kind: "write_unverified", detail: { unsettled: true } });
    expect(runs).toBe(1);
    // Once the probe sees it, a repeat settles the claim as done, still without running it.
    visible = true;
    const later = rt.startRun({ agent: "a" }); // the first run has lost confidence in itself
    expect(await later.call(put, { k: "a", v: "1" })).toMatchObject({ ok: true, replayed: true, recovered: true });
    expect(await later.call(put, { k: "a", v: "1" })).toMatchObject({ ok: true, replayed: true });
    expect(runs).toBe(1);
  });

  it("a verified write resets the unverified depth that probe-less writes build up", async () => {
    const { rt } = manualRuntime();
    const blind = defineTool({ name: "blind", effect: "write", execute: async () => 1 });
    const { put } = kv();
    const run = rt.startRun({ agent: "a" });
    await run.call(blind, { n: 1 });
    await run.call(blind, { n: 2 });
    expect(run.unverifiedDepth).toBe(2);
    await run.call(put, { k: "a", v: "1" });
    expect(run.unverifiedDepth).toBe(0);
  });

  it("a probe cut short by a stop is not a success either", async () => {
    const { rt } = manualRuntime();
    let started!: () => void;
    const probing = new Promise<void>((r) => (started = r));
    const tool = defineTool({ name: "w", effect: "write", execute: async () => 1, verify: () => { started(); return new Promise<boolean>(() => {}); } });
    const run = rt.startRun({ agent: "a" });
    const pending = run.call(tool, {});
    await probing;
    await run.stop("operator said stop");
    const f = failureOf(await pending);
    expect(f.kind).toBe("write_unverified");
    expect(f.message).toContain("stopped");
  });
});
