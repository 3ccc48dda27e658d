/**
 * The conformance cases of the records a person reads and acts on: the mutations ledger
 * (rollback), approvals, handoffs and freezes (see conformance.ts, which declares them for
 * every store).
 */
import { describe, expect, it } from "vitest";
import type { ApprovalRecord, FreezeRecord, HandoffRecord, MutationRecord, Store } from "./types.js";

export function describeRecordConformance(store: () => Store, T0: number) {
  describe("mutations", () => {
    const mutation = (over: Partial<MutationRecord> = {}): MutationRecord => ({
      id: "call-1",
      runId: "run-1",
      seq: 1,
      tool: "delete_table",
      effect: "destructive",
      args: { table: "users", where: { id: [1, 2] } },
      output: { deleted: 2 },
      checkpoint: { backup: "bk_1" },
      compensable: true,
      status: "done",
      at: T0,
      ...over,
    });

    it("record and list in seq order, per run", async () => {
      await store().mutations.record(mutation({ id: "m3", seq: 3 }));
      await store().mutations.record(mutation({ id: "m1", seq: 1, checkpoint: undefined, compensable: false }));
      await store().mutations.record(mutation({ id: "m2", seq: 2, effect: "write" }));
      await store().mutations.record(mutation({ id: "other", runId: "run-2" }));
      const list = await store().mutations.list("run-1");
      expect(list.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
      expect(list[2]).toEqual(mutation({ id: "m3", seq: 3 }));
      expect(list[0]?.checkpoint).toBeUndefined();
      expect(await store().mutations.list("nope")).toEqual([]);
    });

    it("transition moves from the expected status only, and records an error", async () => {
      await store().mutations.record(mutation());
      expect(await store().mutations.transition("call-1", "compensating", "compensated")).toBe(false);
      expect(await store().mutations.transition("ghost", "done", "compensating")).toBe(false);
      expect(await store().mutations.transition("call-1", "done", "compensating")).toBe(true);
      expect(await store().mutations.transition("call-1", "compensating", "compensation_failed", "backup gone")).toBe(true);
      expect((await store().mutations.list("run-1"))[0]).toMatchObject({ status: "compensation_failed", error: "backup gone" });
      expect(await store().mutations.transition("call-1", "compensation_failed", "compensating")).toBe(true);
      expect((await store().mutations.list("run-1"))[0]).toMatchObject({ status: "compensating", error: "backup gone" });
    });

    it("concurrent transitions from the same status: exactly one wins", async () => {
      await store().mutations.record(mutation());
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store().mutations.transition("call-1", "done", "compensating")),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await store().mutations.list("run-1"))[0]?.status).toBe("compensating");
    });
  });

  describe("approvals", () => {
    const approval = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
      id: "ap-1",
      runId: "run-1",
      tool: "refund",
      args: { amount: 120, currency: "EUR" },
      fingerprint: "fp-refund",
      status: "pending",
      requestedAt: T0,
      ...over,
    });

    it("create, get, list with filters", async () => {
      expect(await store().approvals.get("ap-1")).toBeUndefined();
      await store().approvals.create(approval());
      await store().approvals.create(approval({ id: "ap-2", runId: "run-2", requestedAt: T0 + 1 }));
      await store().approvals.create(approval({ id: "ap-0", requestedAt: T0 - 1, status: "denied", by: "ops", decidedAt: T0 }));
      expect(await store().approvals.get("ap-1")).toEqual(approval());
      expect((await store().approvals.list()).map((a) => a.id)).toEqual(["ap-0", "ap-1", "ap-2"]);
      expect((await store().approvals.list({ status: "pending" })).map((a) => a.id)).toEqual(["ap-1", "ap-2"]);
      expect((await store().approvals.list({ runId: "run-1" })).map((a) => a.id)).toEqual(["ap-0", "ap-1"]);
      expect((await store().approvals.list({ runId: "run-1", status: "pending" })).map((a) => a.id)).toEqual(["ap-1"]);
      expect(await store().approvals.get("ap-0")).toEqual(approval({ id: "ap-0", requestedAt: T0 - 1, status: "denied", by: "ops", decidedAt: T0 }));
    });

    it("find returns the newest request of a run for a fingerprint", async () => {
      await store().approvals.create(approval({ id: "old", requestedAt: T0 }));
      await store().approvals.create(approval({ id: "new", requestedAt: T0 + 5 }));
      await store().approvals.create(approval({ id: "mid", requestedAt: T0 + 2 }));
      await store().approvals.create(approval({ id: "other-run", runId: "run-2", requestedAt: T0 + 9 }));
      await store().approvals.create(approval({ id: "other-fp", fingerprint: "x", requestedAt: T0 + 9 }));
      expect((await store().approvals.find("run-1", "fp-refund"))?.id).toBe("new");
      expect(await store().approvals.find("run-1", "none")).toBeUndefined();
    });

    it("decide once: a second decision does not change the first", async () => {
      expect(await store().approvals.decide("ghost", { status: "approved", by: "ann", at: T0 })).toBeUndefined();
      await store().approvals.create(approval());
      const first = await store().approvals.decide("ap-1", { status: "approved", by: "ann", at: T0 + 1 });
      expect(first).toEqual(approval({ status: "approved", by: "ann", decidedAt: T0 + 1 }));
      const second = await store().approvals.decide("ap-1", { status: "denied", by: "bob", reason: "no", at: T0 + 2 });
      expect(second).toEqual(first);
      expect(await store().approvals.get("ap-1")).toEqual(first);
    });

    it("decide with a reason; concurrent decisions: one wins", async () => {
      await store().approvals.create(approval());
      const [a, b] = await Promise.all([
        store().approvals.decide("ap-1", { status: "denied", by: "ann", reason: "too much", at: T0 + 1 }),
        store().approvals.decide("ap-1", { status: "approved", by: "bob", at: T0 + 2 }),
      ]);
      expect(a).toEqual(b);
      expect([a?.by, a?.status]).toSatisfy((v: unknown[]) =>
        JSON.stringify(v) === JSON.stringify(["ann", "denied"]) || JSON.stringify(v) === JSON.stringify(["bob", "approved"]),
      );
      if (a?.by === "ann") expect(a.reason).toBe("too much");
    });
  });

  describe("handoffs", () => {
    const handoff = (over: Partial<HandoffRecord> = {}): HandoffRecord => ({
      id: "h-1",
      runId: "run-1",
      agent: "support-bot",
      reason: "low confidence",
      context: { facts: [{ key: "fare", value: "€120" }], lastCalls: ["lookup"], confidence: 0.4 },
      status: "open",
      at: T0,
      ...over,
    });

    it("create and list with filters, in creation order", async () => {
      expect(await store().handoffs.list()).toEqual([]);
      await store().handoffs.create(handoff());
      await store().handoffs.create(handoff({ id: "h-2", runId: "run-2", status: "closed" }));
      await store().handoffs.create(handoff({ id: "h-3", at: T0 + 1 }));
      expect(await store().handoffs.list()).toEqual([handoff(), handoff({ id: "h-2", runId: "run-2", status: "closed" }), handoff({ id: "h-3", at: T0 + 1 })]);
      expect((await store().handoffs.list({ status: "open" })).map((h) => h.id)).toEqual(["h-1", "h-3"]);
      expect((await store().handoffs.list({ runId: "run-2" })).map((h) => h.id)).toEqual(["h-2"]);
      expect((await store().handoffs.list({ runId: "run-1", status: "closed" })).map((h) => h.id)).toEqual([]);
    });
  });

  describe("freezes", () => {
    const freeze = (over: Partial<FreezeRecord> = {}): FreezeRecord => ({
      id: "f-1",
      reason: "code freeze ☃",
      by: "ann",
      at: T0,
      ...over,
    });

    it("put and list, ordered by when declared; put replaces by id", async () => {
      expect(await store().freezes.list()).toEqual([]);
      await store().freezes.put(freeze({ id: "f-2", at: T0 + 5 }));
      await store().freezes.put(freeze());
      expect((await store().freezes.list()).map((f) => f.id)).toEqual(["f-1", "f-2"]);
      await store().freezes.put(freeze({ reason: "extended", at: T0 + 10 }));
      expect(await store().freezes.list()).toEqual([freeze({ id: "f-2", at: T0 + 5 }), freeze({ reason: "extended", at: T0 + 10 })]);
    });

    it("windows and optional fields round-trip exactly", async () => {
      const window = freeze({ id: "w", from: T0 + 1_000, to: T0 + 3_600_000 });
      const openEnded = freeze({ id: "o", at: T0 + 1, from: T0 + 2 });
      const until: FreezeRecord = { id: "u", at: T0 + 2, to: T0 + 60_000 };
      // Expired windows are listed too: the caller compares with its own clock.
      const past: FreezeRecord = { id: "p", at: T0 + 3, from: T0 - 10_000, to: T0 - 1 };
      for (const f of [window, openEnded, until, past]) await store().freezes.put(f);
      const listed = await store().freezes.list();
      expect(listed).toEqual([window, openEnded, until, past]);
      expect(Object.keys(listed[2]!).sort()).toEqual(["at", "id", "to"]);
    });

    it("lift one by id, an unknown id, then all", async () => {
      await store().freezes.put(freeze());
      await store().freezes.put(freeze({ id: "f-2", at: T0 + 1 }));
      await store().freezes.put(freeze({ id: "f-3", at: T0 + 2 }));
      expect(await store().freezes.lift("f-2")).toBe(1);
      expect(await store().freezes.lift("f-2")).toBe(0);
      expect(await store().freezes.lift("nope")).toBe(0);
      expect((await store().freezes.list()).map((f) => f.id)).toEqual(["f-1", "f-3"]);
      expect(await store().freezes.lift()).toBe(2);
      expect(await store().freezes.list()).toEqual([]);
      expect(await store().freezes.lift()).toBe(0);
    });

    it("concurrent puts and lifts leave a consistent set", async () => {
      await Promise.all(Array.from({ length: 10 }, (_, i) => store().freezes.put(freeze({ id: `f-${i}`, at: T0 + i }))));
      const lifted = await Promise.all([store().freezes.lift("f-3"), store().freezes.lift("f-3"), store().freezes.lift("f-7")]);
      expect(lifted.reduce((a, b) => a + b, 0)).toBe(2);
      expect((await store().freezes.list()).map((f) => f.id)).toEqual(["f-0", "f-1", "f-2", "f-4", "f-5", "f-6", "f-8", "f-9"]);
    });
  });
}
