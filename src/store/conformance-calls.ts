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
    const j = store().calls;
    if (!j) skip();
    return j!;
  };
  const seqs = (calls: { callId: string }[]) => calls.map((c) => c.callId);

  describe("call journal", () => {
    it("a commit appends its entries with the record; a refused commit appends none; a repeated entry is kept once", async (t) => {
      const calls = journal(() => t.skip());
      const { record: v0 } = await store().runs.create(freshRun("run-1", "bot", T0));
      const failed = entry("run-1", "c-2", { tool: "charge", effect: "write", ok: false, failure: { kind: "timeout", stage: "execute", message: "charge timed out ✗" }, toolCallId: "call_abc", attempts: 3, confidence: 0.7 });
      const v1 = next(v0, { steps: 2 });
      expect(await store().runs.commit(v0, v1, [entry("run-1", "c-1"), failed])).toEqual({ committed: true });
      // Stale: neither the record nor its entries.
      expect((await store().runs.commit(v0, next(v0, { steps: 9 }), [entry("run-1", "c-lost")])).committed).toBe(false);
      // A commit repeated after a lost answer carries entries already there: kept once.
      expect(await store().runs.commit(v1, next(v1), [failed, entry("run-1", "c-3", { at: T0 + 5 })])).toEqual({ committed: true });
      // No entries at all: the commit is as before.
      const v2 = (await store().runs.get("run-1"))!;
      expect(await store().runs.commit(v2, next(v2))).toEqual({ committed: true });
      const { calls: got, next: more } = await calls.list("run-1");
      expect(seqs(got)).toEqual(["c-1", "c-2", "c-3"]);
      expect(more).toBeUndefined();
      expect(got[1]).toEqual({ ...failed, seq: got[1]!.seq });
      expect(got[0]!.seq).toBeLessThan(got[1]!.seq);
      expect(got[1]!.seq).toBeLessThan(got[2]!.seq);
      expect((await calls.list("run-other")).calls).toEqual([]);
    });

    it("list pages by seq: `next` while a page is full", async (t) => {
      const calls = journal(() => t.skip());
      const { record: a0 } = await store().runs.create(freshRun("run-a", "bot", T0));
      const { record: b0 } = await store().runs.create(freshRun("run-b", "bot", T0));
      // At once (one group statement, where a store makes one), and one of them stale.
      const done = await Promise.all([
        store().runs.commit(a0, next(a0), ["a1", "a2", "a3"].map((id) => entry("run-a", id))),
        store().runs.commit(b0, next(b0), [entry("run-b", "b1")]),
        store().runs.commit({ ...b0, version: 7 }, next({ ...b0, version: 7 }), [entry("run-b", "b-lost")]),
      ]);
      expect(done.map((d) => d.committed)).toEqual([true, true, false]);
      const first = await calls.list("run-a", { limit: 2 });
      expect(seqs(first.calls)).toEqual(["a1", "a2"]);
      expect(first.next).toBe(first.calls[1]!.seq);
      const second = await calls.list("run-a", { after: first.next!, limit: 2 });
      expect(seqs(second.calls)).toEqual(["a3"]);
      expect(second.next).toBeUndefined();
      expect(seqs((await calls.list("run-b")).calls)).toEqual(["b1"]);
    });

    it("recent: every run's calls started in [since, until), newest first, with a limit; sweep deletes those before a time", async (t) => {
      const calls = journal(() => t.skip());
      const { record: a0 } = await store().runs.create(freshRun("run-a", "bot", T0));
      const { record: b0 } = await store().runs.create(freshRun("run-b", "bot", T0));
      await store().runs.commit(a0, next(a0), [entry("run-a", "a1", { at: T0 }), entry("run-a", "a2", { at: T0 + 20 })]);
      await store().runs.commit(b0, next(b0), [entry("run-b", "b1", { at: T0 + 10 }), entry("run-b", "b2", { at: T0 + 30 })]);
      expect(seqs(await calls.recent({ since: T0 }))).toEqual(["b2", "a2", "b1", "a1"]);
      expect(seqs(await calls.recent({ since: T0 + 10, until: T0 + 30 }))).toEqual(["a2", "b1"]);
      expect(seqs(await calls.recent({ since: T0, limit: 1 }))).toEqual(["b2"]);
      expect(await calls.sweep(T0 + 20)).toBe(2);
      expect(seqs(await calls.recent({ since: 0 }))).toEqual(["b2", "a2"]);
      expect(seqs((await calls.list("run-a")).calls)).toEqual(["a2"]);
      expect(await calls.sweep(T0 + 20)).toBe(0);
    });
  });
}
