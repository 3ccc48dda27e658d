/**
 * The conformance cases of the runs (the run's state, by compare-and-set on its version:
 * see RunStore) and of the breakers' shared state (see conformance.ts, which declares them
 * for every store).
 */
import { describe, expect, it } from "vitest";
import { freshRun } from "../run-record.js";
import type { RunRecord, Store } from "./types.js";

export function describeRunConformance(store: () => Store, T0: number) {
  describe("breakers", () => {
    it("put, get, replace, list", async () => {
      expect(await store().breakers.get("search")).toBeUndefined();
      await store().breakers.put({ tool: "search", state: "closed", updatedAt: T0 });
      await store().breakers.put({ tool: "db", state: "open", openedAt: T0, reason: "5 of 10 failed", updatedAt: T0 });
      await store().breakers.put({ tool: "search", state: "half_open", openedAt: T0 + 1, updatedAt: T0 + 2 });
      expect(await store().breakers.get("search")).toEqual({ tool: "search", state: "half_open", openedAt: T0 + 1, updatedAt: T0 + 2 });
      const all = await store().breakers.list();
      expect(all.map((b) => b.tool).sort()).toEqual(["db", "search"]);
      expect(all.find((b) => b.tool === "db")).toEqual({ tool: "db", state: "open", openedAt: T0, reason: "5 of 10 failed", updatedAt: T0 });
    });
  });

  describe("runs", () => {
    const run = (over: Partial<RunRecord> = {}): RunRecord => ({ ...freshRun("run-1", "support-bot", T0), ...over });
    const next = (prev: RunRecord, over: Partial<RunRecord>): RunRecord => ({ ...prev, ...over, version: prev.version + 1 });

    it("create: the first creator stores its record, later ones get the stored record back", async () => {
      expect(await store().runs.get("run-1")).toBeUndefined();
      expect(await store().runs.create(run())).toEqual({ created: true, record: run() });
      expect(await store().runs.create(run({ agent: "other", steps: 9 }))).toEqual({ created: false, record: run() });
      expect(await store().runs.get("run-1")).toEqual(run());
    });

    it("commit is a compare-and-set on version: a record computed from a stale one is refused, with the current one", async () => {
      const { record: v0 } = await store().runs.create(run());
      const v1 = next(v0, { steps: 1, facts: { slots: [] }, history: { calls: [] } });
      expect(await store().runs.commit(v0, v1)).toEqual({ committed: true });
      expect(await store().runs.get("run-1")).toEqual(v1);
      const stale = await store().runs.commit(v0, next(v0, { steps: 5 }));
      expect(stale).toEqual({ committed: false, current: v1 });
      // Large parts left out of a commit (the same object as before) stay as stored.
      const v2 = next(v1, { mode: "halted", reason: "stop", destructive: { used: 1, inFlight: [{ callId: "c", until: T0 + 9 }] } });
      expect(await store().runs.commit(v1, v2)).toEqual({ committed: true });
      expect(await store().runs.get("run-1")).toEqual(v2);
      expect(await store().runs.commit(run({ runId: "ghost" }), next(run({ runId: "ghost" }), {}))).toEqual({ committed: false, current: undefined });
    });

    it("of commits racing from one version, exactly one wins", async () => {
      const { record: v0 } = await store().runs.create(run());
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store().runs.commit(v0, next(v0, { steps: i + 1 }))));
      expect(results.filter((r) => r.committed)).toHaveLength(1);
      expect((await store().runs.get("run-1"))?.version).toBe(1);
    });

    it("list: newest first (ties in the order created), by status, up to a limit", async () => {
      const at = { a: T0, b: T0 + 2, c: T0 + 1, d: T0 + 1 };
      for (const [id, startedAt] of Object.entries(at)) await store().runs.create(run({ runId: id, startedAt, ...(id === "b" ? { status: "ended" as const } : {}) }));
      const ids = async (filter?: Parameters<Store["runs"]["list"]>[0]) => (await store().runs.list(filter)).map((r) => r.runId);
      expect(await ids()).toEqual(["b", "c", "d", "a"]);
      expect(await ids({ status: "running" })).toEqual(["c", "d", "a"]);
      expect(await ids({ status: "ended", limit: 5 })).toEqual(["b"]);
      expect(await ids({ limit: 2 })).toEqual(["b", "c"]);
      expect(await ids({ limit: 0 })).toEqual([]);
      expect((await store().runs.list({ status: "running", limit: 1 }))[0]).toEqual(run({ runId: "c", startedAt: at.c }));
    });

    it("requestStop: false for an unknown run; the first request is kept; it bumps the version and survives commits", async () => {
      expect(await store().runs.requestStop("ghost", "stop", T0)).toBe(false);
      const { record: v0 } = await store().runs.create(run({ stopRequested: { reason: "ignored", at: T0 } }));
      expect(v0.stopRequested).toBeUndefined();
      expect(await store().runs.stopRequested("run-1")).toBeUndefined();
      expect(await store().runs.requestStop("run-1", "human said stop", T0 + 1)).toBe(true);
      expect(await store().runs.requestStop("run-1", "again", T0 + 2)).toBe(true);
      const stopped = await store().runs.get("run-1");
      expect(stopped).toEqual({ ...v0, version: 1, stopRequested: { reason: "human said stop", at: T0 + 1 } });
      expect(await store().runs.stopRequested("run-1")).toEqual({ reason: "human said stop", at: T0 + 1 });
      expect(await store().runs.stopRequested("ghost")).toBeUndefined();
      expect((await store().runs.commit(v0, next(v0, { steps: 1 }))).committed).toBe(false);
      expect(await store().runs.commit(stopped!, next(stopped!, { steps: 7, stopRequested: undefined }))).toEqual({ committed: true });
      expect(await store().runs.get("run-1")).toMatchObject({ steps: 7, stopRequested: { reason: "human said stop", at: T0 + 1 } });
    });

    it("list: newest first, by status, with a limit", async () => {
      await store().runs.create(run({ runId: "a", startedAt: T0 }));
      await store().runs.create(run({ runId: "b", startedAt: T0 + 2, status: "ended", endedAt: T0 + 3 }));
      await store().runs.create(run({ runId: "c", startedAt: T0 + 1 }));
      expect((await store().runs.list()).map((r) => r.runId)).toEqual(["b", "c", "a"]);
      expect((await store().runs.list({ status: "running" })).map((r) => r.runId)).toEqual(["c", "a"]);
      expect((await store().runs.list({ status: "ended" }))[0]).toEqual(run({ runId: "b", startedAt: T0 + 2, status: "ended", endedAt: T0 + 3 }));
      expect((await store().runs.list({ limit: 2 })).map((r) => r.runId)).toEqual(["b", "c"]);
      expect(await store().runs.list({ limit: 0 })).toEqual([]);
    });
  });
}
