import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.js";
import { memoryStore } from "../store/memory.js";
import type { BreakerStore } from "../store/types.js";
import { defineTool } from "../tool.js";
import { retryBudgetDefaults } from "./retry-budget.js";
import { HealthRegistry } from "./tool-health.js";

const tool = (name: string, o: { breaker?: false; concurrency?: number } = {}) =>
  defineTool({ name, effect: "read", execute: async () => 1, breaker: o.breaker ?? { windowSize: 4, minCalls: 2, failureRate: 0.5, halfOpenAfterMs: 1_000 }, ...(o.concurrency ? { concurrency: o.concurrency } : {}) });

describe("tool health: one breaker, budget and bulkhead per tool, shared with other processes", () => {
  it("is made once per tool name and shared by every caller; no breaker where the tool has none", () => {
    const h = new HealthRegistry(new ManualClock(), retryBudgetDefaults, memoryStore().breakers, () => {});
    const a = tool("a", { concurrency: 2 });
    expect(h.for(a)).toBe(h.for(a));
    expect(h.for(a).bulkhead).toBeDefined();
    expect(h.for(tool("b", { breaker: false })).breaker).toBeUndefined();
    expect(h.for(tool("b", { breaker: false })).bulkhead).toBeUndefined();
  });

  it("publishes an opening to the store for other processes (not the half-open probe), and tells the runtime", async () => {
    const clock = new ManualClock();
    const store = memoryStore();
    const seen: string[] = [];
    const h = new HealthRegistry(clock, retryBudgetDefaults, store.breakers, (e) => { throw e; }, (t, s) => seen.push(`${t}:${s}`));
    const b = h.for(tool("payments")).breaker!;
    b.onFailure(clock.now(), "503");
    b.onFailure(clock.now(), "503");
    expect(b.state).toBe("open");
    await vi.waitFor(async () => expect(await store.breakers.get("payments")).toMatchObject({ state: "open", openedAt: clock.now() }));
    await clock.advance(1_000);
    expect(b.check(clock.now()).allowed).toBe(true); // half-open: one probe
    expect(seen).toEqual(["payments:open", "payments:half_open"]);
    expect((await store.breakers.get("payments"))?.state).toBe("open");
  });

  it("adopts a breaker opened by another process on its sync interval, and stops when closed", async () => {
    const clock = new ManualClock();
    const store = memoryStore();
    const h = new HealthRegistry(clock, retryBudgetDefaults, store.breakers, () => {});
    const b = h.for(tool("inventory")).breaker!;
    await store.breakers.put({ tool: "inventory", state: "open", openedAt: clock.now(), updatedAt: clock.now(), reason: "down elsewhere" });
    h.startSync(5);
    await vi.waitFor(() => expect(b.state).toBe("open"));
    h.close();
    // Once closed it adopts nothing more: a later opening elsewhere is not seen.
    const c = h.for(tool("search")).breaker!;
    await store.breakers.put({ tool: "search", state: "open", openedAt: clock.now(), updatedAt: clock.now() });
    await new Promise((r) => setTimeout(r, 30));
    expect(c.state).toBe("closed");
  });

  it("a store that fails while syncing or publishing reports the error and the breaker keeps working", async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const broken: BreakerStore = {
      get: () => Promise.reject(new Error("store down")),
      put: () => Promise.reject(new Error("store down (put)")),
      list: () => Promise.reject(new Error("store down (list)")),
    };
    const h = new HealthRegistry(clock, retryBudgetDefaults, broken, (e) => errors.push(e));
    const b = h.for(tool("payments")).breaker!;
    b.onFailure(clock.now());
    b.onFailure(clock.now());
    expect(b.state).toBe("open");
    h.startSync(5);
    await vi.waitFor(() => expect(errors.map(String)).toEqual(expect.arrayContaining(["Error: store down (put)", "Error: store down (list)"])));
    h.close();
  });
});
