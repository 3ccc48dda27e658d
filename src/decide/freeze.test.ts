import { describe, expect, it, vi } from "vitest";
import { createRuntime, defineTool, ManualClock, memoryStore, PolicyError } from "../index.js";
import { kindOf } from "../../test/fixtures/runtime.js";


function setup(policy = {}) {
  const clock = new ManualClock();
  const store = memoryStore();
  const rt = createRuntime({ clock, store, policy, onError: (e) => { throw e; } });
  const write = defineTool({ name: "write", effect: "write", execute: vi.fn(async () => 1) });
  const drop = defineTool({ name: "drop", effect: "destructive", execute: vi.fn(async () => 1) });
  const read = defineTool({ name: "read", effect: "read", execute: vi.fn(async () => 1) });
  return { rt, clock, store, write, drop, read };
}

describe("freeze", () => {
  it("rt.freeze refuses every write and destructive call of runs already in flight; reads go on", async () => {
    const { rt, write, drop, read } = setup();
    const run = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("ok");
    await rt.freeze("release 4.2 is going out", { by: "ops" });
    const o = await run.call(drop, { t: "users" });
    expect(kindOf(o)).toBe("frozen");
    if (!o.ok) expect(o.failure.message).toContain("release 4.2 is going out");
    expect(kindOf(await run.call(write, { n: 2 }))).toBe("frozen");
    expect(kindOf(await run.call(read, {}))).toBe("ok");
    expect(drop.spec.execute).not.toHaveBeenCalled();
  });

  it("rt.unfreeze lifts it", async () => {
    const { rt, write } = setup();
    const run = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    await rt.freeze("x");
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("frozen");
    expect(await rt.unfreeze()).toBe(1);
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("ok");
  });

  it("a window holds only between from and to (manual clock)", async () => {
    const { rt, clock, write } = setup();
    const run = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    const from = clock.now() + 1_000;
    await rt.freeze("deploy window", { from, to: from + 1_000 });
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("ok");
    await clock.advance(1_000);
    const o = await run.call(write, { n: 2 });
    expect(kindOf(o)).toBe("frozen");
    if (!o.ok) expect(o.failure.detail?.until).toBe(from + 1_000);
    await clock.advance(1_000);
    expect(kindOf(await run.call(write, { n: 3 }))).toBe("ok");
  });

  it("a freeze declared by another process (runtime on the same store) holds from the next write", async () => {
    const { rt, store, write, read } = setup();
    const run = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    const operator = createRuntime({ store });
    const f = await operator.freeze("incident 812");
    expect(kindOf(await run.call(read, {}))).toBe("ok");
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("frozen");
    expect((await rt.freezes()).map((x) => x.id)).toEqual([f.id]);
    await operator.unfreeze(f.id);
    expect(kindOf(await run.call(write, { n: 1 }))).toBe("ok");
  });

  it("policy.freeze: true on the runtime or on one run", async () => {
    const a = setup({ freeze: true });
    expect(kindOf(await a.rt.startRun({ agent: "a" }).call(a.write, {}))).toBe("frozen");
    const b = setup();
    expect(kindOf(await b.rt.startRun({ agent: "a", policy: { freeze: true } }).call(b.drop, {}))).toBe("frozen");
    expect(kindOf(await b.rt.startRun({ agent: "a" }).call(b.drop, {}))).toBe("ok");
  });

  it("a window whose `to` is before its `from` is refused by createRuntime, startRun and rt.freeze", async () => {
    const bad = [{ from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" }];
    expect(() => createRuntime({ policy: { freeze: bad } })).toThrow(PolicyError);
    expect(() => createRuntime({ policy: { freeze: bad } })).toThrow(/ends .* before it starts/);
    const { rt, clock, write } = setup();
    expect(() => rt.startRun({ agent: "a", policy: { freeze: bad } })).toThrow(PolicyError);
    await expect(rt.freeze("x", { from: clock.now() + 10, to: clock.now() })).rejects.toThrow(/before it starts/);
    await expect(rt.freeze("x", { to: "not a date" })).rejects.toThrow(PolicyError);
    // Nothing was declared by the failed attempts.
    expect(await rt.freezes()).toEqual([]);
    expect(kindOf(await rt.startRun({ agent: "a" }).call(write, {}))).toBe("ok");
  });

  it("a time without a zone is refused everywhere a window is given: it would mean another moment on each machine", async () => {
    const rt = createRuntime();
    const zoneless = [{ from: "2026-07-18T12:00", to: "2026-07-18T14:00:00Z" }];
    expect(() => createRuntime({ policy: { freeze: zoneless } })).toThrow(/freeze\[0\]\.from: "2026-07-18T12:00" has no time zone/);
    expect(() => rt.startRun({ agent: "a", policy: { freeze: zoneless } })).toThrow(PolicyError);
    await expect(rt.freeze("release", { to: "2026-07-18T18:00" })).rejects.toThrow(/freeze: to: "2026-07-18T18:00" has no time zone.*2026-07-18T12:00:00Z/);
    await expect(rt.freeze("release", { from: "2026-07-18" })).rejects.toThrow(/has no time zone/);
    expect(await rt.freezes()).toEqual([]);
    const ok = await rt.freeze("release", { from: "2026-07-18T12:00:00-04:00", to: "2026-07-18T20:00Z" });
    expect(ok).toMatchObject({ from: Date.UTC(2026, 6, 18, 16), to: Date.UTC(2026, 6, 18, 20) });
    await rt.close();
  });

  it("fails closed: a write is refused when the store cannot say whether it is frozen", async () => {
    const { rt, store, write, read } = setup();
    const run = rt.startRun({ agent: "a" });
    await rt.ready();
    vi.spyOn(store.freezes!, "list").mockRejectedValue(new Error("db down"));
    expect(kindOf(await run.call(write, {}))).toBe("store_unavailable");
    expect(write.spec.execute).not.toHaveBeenCalled();
    // A read does not need the freeze board.
    expect(kindOf(await run.call(read, {}))).toBe("ok");
  });
});
