/**
 * The conformance cases of alerts and monitors (part of `describeStoreConformance`): the
 * semantics in types.ts, including what two processes racing on one store must see.
 */
import { describe, expect, it } from "vitest";
import type { NewAlert, Store } from "./types.js";

export function describeAlertConformance(store: () => Store, T0: number) {
  const alert = (over: Partial<NewAlert> = {}): NewAlert => ({
    id: "a1",
    key: "breaker_open:payments",
    kind: "breaker_open",
    severity: "critical",
    summary: "payments is cut off",
    tool: "payments",
    at: T0,
    ...over,
  });

  describe("alerts", () => {
    it("raise inserts a firing alert once; raising the same key again counts it, not a second alert", async () => {
      const first = await store().alerts.raise(alert({ details: { failed: 5 } }));
      expect(first).toEqual({
        fresh: true,
        alert: { id: "a1", key: "breaker_open:payments", kind: "breaker_open", severity: "critical", summary: "payments is cut off", tool: "payments", details: { failed: 5 }, state: "firing", firstAt: T0, lastAt: T0, count: 1 },
      });
      const again = await store().alerts.raise(alert({ id: "a2", summary: "payments is still cut off", at: T0 + 5 }));
      expect(again.fresh).toBe(false);
      expect(again.alert).toMatchObject({ id: "a1", count: 2, firstAt: T0, lastAt: T0 + 5, summary: "payments is still cut off", details: { failed: 5 } });
      expect(await store().alerts.list()).toHaveLength(1);
      expect(await store().alerts.get("a2")).toBeUndefined();
    });

    it("resolve closes the open alert; the key raised again is a new alert", async () => {
      await store().alerts.raise(alert());
      expect(await store().alerts.resolve("breaker_open:payments", T0 + 10)).toMatchObject({ id: "a1", state: "resolved", resolvedAt: T0 + 10 });
      expect(await store().alerts.resolve("breaker_open:payments", T0 + 11)).toBeUndefined();
      expect(await store().alerts.resolve("nothing", T0)).toBeUndefined();
      const next = await store().alerts.raise(alert({ id: "a3", at: T0 + 20 }));
      expect(next).toMatchObject({ fresh: true, alert: { id: "a3", state: "firing", count: 1 } });
      expect((await store().alerts.list()).map((a) => [a.id, a.state])).toEqual([["a3", "firing"], ["a1", "resolved"]]);
      expect((await store().alerts.list({ state: "resolved" })).map((a) => a.id)).toEqual(["a1"]);
      expect((await store().alerts.list({ limit: 1 })).map((a) => a.id)).toEqual(["a3"]);
    });

    it("acknowledge records who; an acknowledged alert raised again stays acknowledged and is not fresh", async () => {
      await store().alerts.raise(alert());
      expect(await store().alerts.acknowledge("a1", "dana", T0 + 1)).toMatchObject({ state: "acknowledged", acknowledgedBy: "dana", acknowledgedAt: T0 + 1 });
      // A second acknowledgement does not overwrite the first.
      expect(await store().alerts.acknowledge("a1", "sam", T0 + 2)).toMatchObject({ acknowledgedBy: "dana" });
      expect(await store().alerts.raise(alert({ id: "a9", at: T0 + 3 }))).toMatchObject({ fresh: false, alert: { id: "a1", state: "acknowledged", count: 2 } });
      expect(await store().alerts.acknowledge("unknown", "dana", T0)).toBeUndefined();
      expect(await store().alerts.resolve("breaker_open:payments", T0 + 4)).toMatchObject({ state: "resolved", acknowledgedBy: "dana" });
    });

    it("concurrent raises of one key: one alert, one of them fresh, every raise counted", async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store().alerts.raise(alert({ id: `c${i}`, at: T0 + i }))));
      expect(results.filter((r) => r.fresh)).toHaveLength(1);
      const [only] = await store().alerts.list();
      expect(only!.count).toBe(8);
      expect(await store().alerts.list()).toHaveLength(1);
    });
  });

  describe("monitors", () => {
    it("put by compare-and-set on the version; get and list return what was written", async () => {
      expect(await store().monitors.get("m")).toBeUndefined();
      expect(await store().monitors.put("m", 0, { n: 1 }, T0)).toBe(true);
      expect(await store().monitors.put("m", 0, { n: 99 }, T0)).toBe(false);
      expect(await store().monitors.get("m")).toEqual({ key: "m", version: 1, data: { n: 1 }, updatedAt: T0 });
      expect(await store().monitors.put("m", 1, { n: 2, nested: { a: [1, "x"] } }, T0 + 1)).toBe(true);
      expect(await store().monitors.put("m", 1, { n: 3 }, T0 + 2)).toBe(false);
      expect(await store().monitors.put("a", 0, {}, T0)).toBe(true);
      expect(await store().monitors.list()).toEqual([
        { key: "a", version: 1, data: {}, updatedAt: T0 },
        { key: "m", version: 2, data: { n: 2, nested: { a: [1, "x"] } }, updatedAt: T0 + 1 },
      ]);
    });

    it("concurrent writers from one version: exactly one wins", async () => {
      await store().monitors.put("m", 0, { n: 0 }, T0);
      const wins = await Promise.all(Array.from({ length: 6 }, (_, i) => store().monitors.put("m", 1, { n: i }, T0)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect((await store().monitors.get("m"))!.version).toBe(2);
    });
  });
}
