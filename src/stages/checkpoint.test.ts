import { describe, expect, it } from "vitest";
import { defineTool } from "../index.js";
import { kindOf, manualRuntime } from "../../test/fixtures/runtime.js";

/** A table whose drop is destructive, with a checkpoint hook that can be told how to misbehave. */
function table(hook: (calls: number) => unknown) {
  let checkpoints = 0;
  let drops = 0;
  let attempts = 0;
  const drop = defineTool({
    name: "drop_table",
    effect: "destructive",
    timeoutMs: 1_000,
    // Safe to retry after a failed attempt: the database dedupes on the idempotency key.
    idempotent: true,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    checkpoint: () => hook(++checkpoints),
    execute: async () => {
      // The first attempt fails, so a retry happens: the checkpoint must not be taken again.
      if (++attempts === 1) throw new Error("connection reset");
      drops++;
      return { dropped: true };
    },
  });
  return { drop, checkpoints: () => checkpoints, drops: () => drops };
}

describe("checkpoint: a backup before a destructive action, failing closed", () => {
  it("is taken once per call (not per retry), before the action, and recorded with the mutation", async () => {
    const { rt, clock, store } = manualRuntime();
    const t = table((n) => ({ backup: `snap-${n}` }));
    const run = rt.startRun({ agent: "ops", runId: "r1" });
    const pending = run.call(t.drop, { table: "users" });
    await clock.advance(10);
    expect(kindOf(await pending)).toBe("ok");
    expect(t.checkpoints()).toBe(1);
    expect(t.drops()).toBe(1);
    const [m] = await store.mutations.list("r1");
    expect(m?.checkpoint).toEqual({ backup: "snap-1" });
  });

  it("a checkpoint that throws means the action does not run, and the model is told nothing changed", async () => {
    const { rt } = manualRuntime();
    const t = table(() => {
      throw new Error("backup volume full");
    });
    const o = await rt.startRun({ agent: "ops" }).call(t.drop, { table: "users" });
    expect(kindOf(o)).toBe("tool_error");
    expect(!o.ok && o.failure.message).toMatch(/drop_table was not run: the checkpoint .* failed: backup volume full\. Nothing was changed/);
    expect(t.drops()).toBe(0);
  });

  it("a checkpoint that hangs past the tool's timeout fails closed", async () => {
    const { rt, clock } = manualRuntime();
    const t = table(() => new Promise(() => {}));
    const pending = rt.startRun({ agent: "ops" }).call(t.drop, { table: "users" });
    await clock.advance(1_000);
    const o = await pending;
    expect(!o.ok && o.failure.message).toContain("did not finish within 1000ms");
    expect(t.drops()).toBe(0);
  });

  it("a reference that cannot be recorded (not JSON) fails closed", async () => {
    const { rt } = manualRuntime();
    const t = table(() => ({ handle: () => "a function is no backup id" }));
    const o = await rt.startRun({ agent: "ops" }).call(t.drop, { table: "users" });
    expect(!o.ok && o.failure.message).toContain("its reference cannot be recorded");
    expect(t.drops()).toBe(0);
  });

  it("a replayed call takes no second checkpoint", async () => {
    const { rt, clock } = manualRuntime();
    const t = table((n) => `snap-${n}`);
    const run = rt.startRun({ agent: "ops" });
    const first = run.call(t.drop, { table: "users" });
    await clock.advance(10);
    expect(kindOf(await first)).toBe("ok");
    const again = await run.call(t.drop, { table: "users" });
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(t.checkpoints()).toBe(1);
  });
});
