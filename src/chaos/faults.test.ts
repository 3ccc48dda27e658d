import { describe, expect, it } from "vitest";
import { ToolError } from "bulwark";
import { createFaults, inject, InjectedFault, malform, seeded, SimClock } from "bulwark/chaos";

const ctx = () => ({ runId: "r", callId: "c", attempt: 1, signal: new AbortController().signal });

describe("seeded", () => {
  it("repeats from a seed and differs between seeds", () => {
    const a = seeded(5);
    const b = seeded(5);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(seeded(6)()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe("fault injectors", () => {
  it("lostResponse: the effect happens, the answer is lost", async () => {
    const effects: number[] = [];
    const f = createFaults({ seed: 1 });
    const fn = inject((a: number) => (effects.push(a), a), f.lostResponse());
    await expect(fn(7, ctx())).rejects.toBeInstanceOf(InjectedFault);
    expect(effects).toEqual([7]);
  });

  it("rateLimit: a 429 carries Retry-After as a ToolError, and the limit frees in time", async () => {
    const clock = new SimClock();
    const f = createFaults({ seed: 1, clock });
    const fn = inject((a: number) => a, f.rateLimit({ limit: 2, perMs: 1_000 }));
    await fn(1, ctx());
    clock.skip(300);
    await fn(2, ctx());
    const e = await Promise.resolve(fn(3, ctx())).catch((x) => x);
    expect(e).toBeInstanceOf(ToolError);
    expect(e.retryAfterMs).toBe(700);
    clock.skip(700);
    await expect(fn(4, ctx())).resolves.toBe(4);
  });

  it("latency and hang take simulated time only", async () => {
    const clock = new SimClock();
    const f = createFaults({ seed: 1, clock });
    const slow = inject(() => "ok", f.latency({ ms: 5_000 }));
    expect(await clock.run(Promise.resolve(slow(0, ctx())))).toBe("ok");
    expect(clock.now() - new SimClock().now()).toBe(5_000);
    const hung = inject(() => "ok", f.hang({ ms: 60_000 }));
    await expect(clock.run(Promise.resolve(hung(0, ctx())))).rejects.toThrow(/hung/);
  });

  it("outage and flapping fail by the clock", async () => {
    const clock = new SimClock();
    const f = createFaults({ seed: 1, clock });
    const start = clock.now();
    const down = inject(() => "ok", f.outage({ down: (now) => now >= start + 100 }));
    await expect(down(0, ctx())).resolves.toBe("ok");
    clock.skip(100);
    await expect(down(0, ctx())).rejects.toThrow(/outage/);
    const flap = inject(() => "ok", f.flapping({ upMs: 10, downMs: 10 }));
    await expect(flap(0, ctx())).resolves.toBe("ok");
    clock.skip(15);
    await expect(flap(0, ctx())).rejects.toThrow(/flapping/);
  });

  it("error fires at its rate, from the seed", async () => {
    const f = createFaults({ seed: 3 });
    const fn = inject(() => "ok", f.error({ rate: 0.3 }));
    let failed = 0;
    for (let i = 0; i < 1_000; i++) await Promise.resolve(fn(0, ctx())).catch(() => failed++);
    expect(failed).toBeGreaterThan(240);
    expect(failed).toBeLessThan(360);
  });

  it("malform: renamed field, wrong type, truncated JSON, units off by 100", () => {
    const r = seeded(1);
    const v = { price: 12, sku: "a" };
    const renamed = malform(v, "rename", r) as Record<string, unknown>;
    expect(Object.keys(renamed).some((k) => k.endsWith("_v2"))).toBe(true);
    const typed = malform(v, "wrong_type", r) as Record<string, unknown>;
    expect(typeof typed.price !== "number" || typeof typed.sku !== "string").toBe(true);
    const cut = malform(v, "truncate", r);
    expect(typeof cut).toBe("string");
    expect(() => JSON.parse(cut as string)).toThrow();
    expect(malform(v, "units", r)).toEqual({ price: 1200, sku: "a" });
  });

  it("stale serves the first answer again; contradicting stays wrong for the same arguments", async () => {
    let n = 0;
    const f = createFaults({ seed: 1 });
    const stale = inject(() => ++n, f.stale());
    expect(await stale(0, ctx())).toBe(1);
    expect(await stale(0, ctx())).toBe(1);
    const other = inject((a: number) => a, f.contradicting<number>({ alter: (x) => x + 1 }));
    expect(await other(1, ctx())).toBe(2);
    expect(await other(1, ctx())).toBe(2);
  });

  it("noopWrite and partialWrite report success for what they did not do", async () => {
    const store: string[] = [];
    const f = createFaults({ seed: 1 });
    const write = (a: string[]) => (store.push(...a), { n: a.length });
    const noop = inject(write, f.noopWrite({ reply: (a: string[]) => ({ n: a.length }) }));
    expect(await noop(["x"], ctx())).toEqual({ n: 1 });
    expect(store).toEqual([]);
    const partial = inject(write, f.partialWrite<string[], { n: number }>({ part: (a) => a.slice(0, 1), reply: (a) => ({ n: a.length }) }));
    expect(await partial(["a", "b", "c"], ctx())).toEqual({ n: 3 });
    expect(store).toEqual(["a"]);
  });
});
