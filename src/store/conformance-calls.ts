/**
 * The conformance cases of the call journal (see CallJournalStore; conformance.ts declares
 * them for every store). A store without a journal (optional on the contract) skips them.
 */
import { describe, expect, it } from "vitest";
import { freshRun } from "../run-record.js";
import type { CallJournalEntry, CallJournalStore, RunRecord, Store } from "./types.js";

export function describeCallJournalConformance(store: () => Store, T0: number) {
  const entry = (runId: string, callId: string, over: Partial<CallJournalEntry> = {}): CallJournalEntry => ({
    runId,
    callId,
    tool: "lookup",
    effect: "read",
    ok: true,
    latencyMs: 12.5,
    attempts: 1,
    at: T0,
    confidence: 1,
    ...over,
  });
  const next = (prev: RunRecord, over: Partial<RunRecord> = {}): RunRecord => ({ ...prev, ...over, version: prev.version + 1 });
  const journal = (skip: () => void): CallJournalStore => {
    const j = store().callJournal;
    if (!j) skip();
    return j!;
  };
  const ids = (calls: { callId: string }[]) => calls.map((c) => c.callId);
  /** Commit each list of entries to `runId` in turn, from its stored record. */
  const commits = async (runId: string, ...lists: CallJournalEntry[][]) => {
    let r = (await store().runs.get(runId)) ?? (await store().runs.create(freshRun(runId, "bot", T0))).record;
    for (const list of lists) {
      const n = next(r);
      expect(await store().runs.commit(r, n, list)).toEqual({ committed: true });
      r = n;
    }
  };

  describe("call journal", () => {
    it("a commit appends its entries with the record; a refused commit appends none; a call sent again is read once", async (t) => {
      const calls = journal(() => t.skip());
      const { record: v0 } = await store().runs.create(freshRun("run-1", "bot", T0));
      const failed = entry("run-1", "c-2", { tool: "charge", effect: "write", ok: false, failure: { kind: "timeout", stage: "execute", message: "charge timed out ✗" }, toolCallId: "call_abc", attempts: 3, confidence: 0.7 });
      const v1 = next(v0, { steps: 2 });
      expect(await store().runs.commit(v0, v1, [entry("run-1", "c-1"), failed])).toEqual({ committed: true });
      // Stale: neither the record nor its entries.
      expect((await store().runs.commit(v0, next(v0, { steps: 9 }), [entry("run-1", "c-lost")])).committed).toBe(false);
      // A commit repeated after a lost answer carries entries already there: read once.
      expect(await store().runs.commit(v1, next(v1), [failed, entry("run-1", "c-3", { at: T0 + 5 })])).toEqual({ committed: true });
      // No entries at all: the commit is as before.
      const v2 = (await store().runs.get("run-1"))!;
      expect(await store().runs.commit(v2, next(v2))).toEqual({ committed: true });
      expect(await store().runs.commit(next(v2), next(next(v2)), [])).toEqual({ committed: true });
      const { calls: got, next: more } = await calls.list("run-1");
      expect(ids(got)).toEqual(["c-1", "c-2", "c-3"]);
      expect(more).toBeUndefined();
      expect(got[1]).toEqual({ ...failed, seq: got[1]!.seq });
      // A commit's entries share its seq; a later commit's is greater.
      expect(got[0]!.seq).toBe(got[1]!.seq);
      expect(got[1]!.seq).toBeLessThan(got[2]!.seq);
      expect((await calls.list("run-other")).calls).toEqual([]);
      expect(ids(await calls.recent({ since: T0 }))).toEqual(["c-3", "c-2", "c-1"]);
    });

    it("commits at once (one group statement, where a store makes one) append each run's own entries, the stale one's none", async (t) => {
      const calls = journal(() => t.skip());
      const { record: a0 } = await store().runs.create(freshRun("run-a", "bot", T0));
      const { record: b0 } = await store().runs.create(freshRun("run-b", "bot", T0));
      const done = await Promise.all([
        store().runs.commit(a0, next(a0), ["a1", "a2", "a3"].map((id) => entry("run-a", id))),
        store().runs.commit(b0, next(b0), [entry("run-b", "b1")]),
        store().runs.commit({ ...b0, version: 7 }, next({ ...b0, version: 7 }), [entry("run-b", "b-lost")]),
      ]);
      expect(done.map((d) => d.committed)).toEqual([true, true, false]);
      expect(ids((await calls.list("run-a")).calls)).toEqual(["a1", "a2", "a3"]);
      expect(ids((await calls.list("run-b")).calls)).toEqual(["b1"]);
    });

    it("list pages by whole commits: as many as fit in `limit` calls (the first always), `next` while more are stored", async (t) => {
      const calls = journal(() => t.skip());
      await commits("run-a", [entry("run-a", "a1")], [entry("run-a", "a2"), entry("run-a", "a3")], [entry("run-a", "a4")]);
      const p1 = await calls.list("run-a", { limit: 2 });
      expect(ids(p1.calls)).toEqual(["a1"]);
      const p2 = await calls.list("run-a", { after: p1.next!, limit: 2 });
      expect(ids(p2.calls)).toEqual(["a2", "a3"]);
      const p3 = await calls.list("run-a", { after: p2.next!, limit: 2 });
      expect(ids(p3.calls)).toEqual(["a4"]);
      expect(p3.next).toBeUndefined();
      // A commit larger than the limit comes whole.
      const big = await calls.list("run-a", { after: p1.next!, limit: 1 });
      expect(ids(big.calls)).toEqual(["a2", "a3"]);
      expect(big.next).toBe(p2.next);
      expect(ids((await calls.list("run-a", { limit: 4 })).calls)).toEqual(["a1", "a2", "a3", "a4"]);
    });

    it("recent: every run's calls started in [since, until), newest first, with a limit; sweep deletes the commits whose calls are all older than a time", async (t) => {
      const calls = journal(() => t.skip());
      await commits("run-a", [entry("run-a", "a1", { at: T0 })], [entry("run-a", "a2", { at: T0 + 20 })]);
      await commits("run-b", [entry("run-b", "b1", { at: T0 + 10 }), entry("run-b", "b2", { at: T0 + 30 })]);
      expect(ids(await calls.recent({ since: T0 }))).toEqual(["b2", "a2", "b1", "a1"]);
      expect(ids(await calls.recent({ since: T0 + 10, until: T0 + 30 }))).toEqual(["a2", "b1"]);
      expect(ids(await calls.recent({ since: T0, limit: 1 }))).toEqual(["b2"]);
      expect(ids(await calls.recent({ since: T0, limit: 2 }))).toEqual(["b2", "a2"]);
      // A commit whose calls straddle `until` (its last is later, its first in the window).
      await commits("run-c", [entry("run-c", "c1", { at: T0 + 21 }), entry("run-c", "c2", { at: T0 + 40 })]);
      expect(ids(await calls.recent({ since: T0, until: T0 + 25, limit: 1 }))).toEqual(["c1"]);
      expect(ids(await calls.recent({ since: T0, until: T0 + 30, limit: 2 }))).toEqual(["c1", "a2"]);
      await commits("run-d", [entry("run-d", "d1", { at: T0 + 22 }), entry("run-d", "d2", { at: T0 + 28 })]);
      expect(ids(await calls.recent({ since: T0, until: T0 + 25, limit: 1 }))).toEqual(["d1"]);
      // b1 is older, but its commit also holds b2: kept with it.
      expect(await calls.sweep(T0 + 20)).toBe(1);
      expect(ids(await calls.recent({ since: 0 }))).toEqual(["c2", "b2", "d2", "d1", "c1", "a2", "b1"]);
      expect(ids((await calls.list("run-a")).calls)).toEqual(["a2"]);
      expect(await calls.sweep(T0 + 20)).toBe(0);
      expect(await calls.sweep(T0 + 41)).toBe(4);
      expect(await calls.recent({ since: 0 })).toEqual([]);
    });
  });
}
