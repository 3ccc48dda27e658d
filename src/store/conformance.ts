/**
 * The conformance suite every Store passes: memory (the reference), SQLite, PostgreSQL, and
 * a third party's through `bulwark/testing`. `describeStoreConformance([name,] makeStore)`
 * declares vitest tests; each test gets a fresh, empty store from `makeStore` and closes it
 * afterwards. Times are passed in, never read; except by a store that judges leases by its
 * own clock (`{ leaseClock: "store" }`), for which the lease cases let real time pass.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeAlertConformance } from "./conformance-alerts.js";
import { describeRecordConformance } from "./conformance-records.js";
import { describeRunConformance } from "./conformance-runs.js";
import { describeShadowConformance } from "./conformance-shadow.js";
import { describeCallJournalConformance } from "./conformance-calls.js";
import type { ClaimRequest, Store, StoredOutcome } from "./types.js";

type MakeStore = () => Store | Promise<Store>;

export interface StoreConformanceOptions {
  /**
   * The clock the store judges leases by: "caller", the `now` each claim passes (memory,
   * SQLite) ["caller"]; or "store", its own (PostgreSQL: processes whose clocks differ then
   * agree on when a lease lapses). With "store", the lease cases wait for leases to lapse in
   * real time (about two seconds in all), and a `leaseUntil` read by `get` may be the
   * store's time (within a second of this machine's).
   */
  leaseClock?: "caller" | "store";
}

export function describeStoreConformance(makeStore: MakeStore): void;
export function describeStoreConformance(name: string, makeStore: MakeStore, options?: StoreConformanceOptions): void;
export function describeStoreConformance(nameOrMake: string | MakeStore, make?: MakeStore, options: StoreConformanceOptions = {}): void {
  const [name, makeStore] = typeof nameOrMake === "function" ? ["store", nameOrMake] : [nameOrMake, make];
  if (typeof makeStore !== "function") throw new TypeError("describeStoreConformance([name,] makeStore): makeStore must be a function returning a fresh Store");
  const storeClock = options.leaseClock === "store";
  /**
   * Lease time passing: on the caller's clock the cases pass a later `now` and need not
   * wait; on the store's own, they also wait this long (a little more) in real time.
   */
  const pass = (ms: number) => (storeClock ? new Promise((r) => setTimeout(r, ms + 30)) : Promise.resolve());
  /** A lease's end, `at` on the caller's clock; on the store's, as read back: near this machine's now + `left`. */
  const leaseEnd = (at: number, left: number) =>
    storeClock ? expect.toSatisfy((v: unknown) => typeof v === "number" && Math.abs(v - (Date.now() + left)) < 1_000) : at;
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const T0 = 1_700_000_000_000;
    const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
      scope: "charge",
      key: "k1",
      fingerprint: "fp1",
      owner: "call-a",
      runId: "run-1",
      now: T0,
      leaseMs: 1_000,
      retentionMs: 60_000,
      ...over,
    });
    const ok = (value: unknown): StoredOutcome => ({ ok: true, value });
    const failed: StoredOutcome = { ok: false, failure: { kind: "timeout", message: "no answer", retryable: false } };

    describe("idempotency", () => {
      it("claims a fresh key and records it in flight", async () => {
        expect(await store.idempotency.claim(req())).toMatchObject({ status: "claimed" });
        expect(await store.idempotency.get("charge", "k1")).toEqual({
          scope: "charge",
          key: "k1",
          fingerprint: "fp1",
          state: "in_flight",
          generation: 0,
          owner: "call-a",
          runId: "run-1",
          leaseUntil: leaseEnd(T0 + 1_000, 1_000),
          createdAt: T0,
          expiresAt: T0 + 60_000,
        });
        expect(await store.idempotency.get("charge", "other")).toBeUndefined();
      });

      it("keys are unique within a scope only", async () => {
        expect((await store.idempotency.claim(req())).status).toBe("claimed");
        expect((await store.idempotency.claim(req({ scope: "refund", owner: "call-b" }))).status).toBe("claimed");
      });

      it("replays a completed key", async () => {
        await store.idempotency.claim(req());
        expect(await store.idempotency.complete("charge", "k1", "call-a", ok({ id: "ch_1" }), T0 + 10)).toBe(true);
        const r = await store.idempotency.claim(req({ owner: "call-b", now: T0 + 20 }));
        expect(r.status).toBe("completed");
        if (r.status !== "completed") return;
        expect(r.record.outcome).toEqual({ ok: true, value: { id: "ch_1" } });
        expect(r.record.owner).toBe("call-a");
        expect(r.record.state).toBe("completed");
      });

      it("records a failure outcome", async () => {
        await store.idempotency.claim(req());
        const outcome: StoredOutcome = {
          ok: false,
          failure: { kind: "tool_error", message: "card declined", retryable: false, detail: { code: 402 } },
        };
        await store.idempotency.complete("charge", "k1", "call-a", outcome, T0 + 1);
        expect((await store.idempotency.get("charge", "k1"))?.outcome).toEqual(outcome);
      });

      it("reports a conflict for the same key with another fingerprint", async () => {
        await store.idempotency.claim(req());
        const r = await store.idempotency.claim(req({ fingerprint: "fp2", owner: "call-b" }));
        expect(r.status).toBe("conflict");
        if (r.status === "conflict") expect(r.record.fingerprint).toBe("fp1");
        await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0 + 1);
        expect((await store.idempotency.claim(req({ fingerprint: "fp2", owner: "call-c", now: T0 + 2 }))).status).toBe(
          "conflict",
        );
      });

      it("reports in_flight while the lease is live", async () => {
        await store.idempotency.claim(req());
        const r = await store.idempotency.claim(req({ owner: "call-b", now: T0 + 999 }));
        expect(r.status).toBe("in_flight");
        if (r.status === "in_flight") expect(r.record.owner).toBe("call-a");
      });

      it("hands over a lapsed lease as lease_expired, with the lapsed record", async () => {
        await store.idempotency.claim(req({ leaseMs: 300 }));
        await pass(300);
        const r = await store.idempotency.claim(req({ owner: "call-b", now: T0 + 300, leaseMs: 300 }));
        expect(r.status).toBe("lease_expired");
        if (r.status === "lease_expired") {
          expect(r.record.owner).toBe("call-a");
          // On the caller's clock: exactly when it lapsed; on the store's, its now plus no time left.
          if (storeClock) expect(r.record.leaseUntil).toBeLessThanOrEqual(T0 + 300);
          else expect(r.record.leaseUntil).toBe(T0 + 300);
        }
        const now = await store.idempotency.get("charge", "k1");
        expect(now).toMatchObject({ owner: "call-b", state: "in_flight", leaseUntil: leaseEnd(T0 + 600, 300), createdAt: T0 + 300 });
        // The old owner comes back: it no longer holds the claim.
        expect(await store.idempotency.complete("charge", "k1", "call-a", ok("late"), T0 + 1_001)).toBe(false);
        expect(await store.idempotency.complete("charge", "k1", "call-b", ok("b"), T0 + 1_002)).toBe(true);
        expect((await store.idempotency.get("charge", "k1"))?.outcome).toEqual(ok("b"));
      });

      it("complete by a non-owner, or twice, returns false", async () => {
        await store.idempotency.claim(req());
        expect(await store.idempotency.complete("charge", "k1", "call-x", ok(1), T0)).toBe(false);
        expect(await store.idempotency.complete("charge", "nope", "call-a", ok(1), T0)).toBe(false);
        expect(await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0)).toBe(true);
        expect(await store.idempotency.complete("charge", "k1", "call-a", ok(2), T0)).toBe(false);
        expect((await store.idempotency.get("charge", "k1"))?.outcome).toEqual(ok(1));
      });

      it("complete keeps the record at least until now", async () => {
        await store.idempotency.claim(req({ retentionMs: 100 }));
        await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0 + 500);
        expect((await store.idempotency.get("charge", "k1"))?.expiresAt).toBe(T0 + 500);
      });

      it("release lets the key be claimed again; release by a non-owner does nothing", async () => {
        await store.idempotency.claim(req());
        await store.idempotency.release("charge", "k1", "call-x");
        expect((await store.idempotency.claim(req({ owner: "call-b" }))).status).toBe("in_flight");
        await store.idempotency.release("charge", "k1", "call-a");
        expect(await store.idempotency.get("charge", "k1")).toBeUndefined();
        expect(await store.idempotency.claim(req({ owner: "call-b", fingerprint: "fp2" }))).toMatchObject({ status: "claimed" });
        expect((await store.idempotency.get("charge", "k1"))?.fingerprint).toBe("fp2");
      });

      it("release does not drop a completed record", async () => {
        await store.idempotency.claim(req());
        await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0);
        await store.idempotency.release("charge", "k1", "call-a");
        expect((await store.idempotency.get("charge", "k1"))?.state).toBe("completed");
      });

      it("replaces an expired completed record", async () => {
        await store.idempotency.claim(req({ retentionMs: 100 }));
        await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0 + 1);
        expect((await store.idempotency.claim(req({ owner: "call-b", now: T0 + 99 }))).status).toBe("completed");
        expect(await store.idempotency.claim(req({ owner: "call-b", now: T0 + 100, fingerprint: "fp9" }))).toMatchObject({
          status: "claimed",
        });
        expect(await store.idempotency.get("charge", "k1")).toMatchObject({ owner: "call-b", fingerprint: "fp9", state: "in_flight" });
        expect((await store.idempotency.get("charge", "k1"))?.outcome).toBeUndefined();
      });

      it("concurrent claims: exactly one wins", async () => {
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => store.idempotency.claim(req({ owner: `call-${i}` }))),
        );
        expect(results.filter((r) => r.status === "claimed")).toHaveLength(1);
        expect(results.filter((r) => r.status === "in_flight")).toHaveLength(11);
      });

      it("sweep deletes expired completed records only, never a claim whose effect is unsettled", async () => {
        await store.idempotency.claim(req({ key: "done-old", retentionMs: 100 }));
        await store.idempotency.complete("charge", "done-old", "call-a", ok(1), T0);
        await store.idempotency.claim(req({ key: "done-new", retentionMs: 10_000 }));
        await store.idempotency.complete("charge", "done-new", "call-a", ok(1), T0);
        // In flight, past retention, lease lapsed: its owner may have acted; kept for a repeat to settle.
        await store.idempotency.claim(req({ key: "dead", retentionMs: 100, leaseMs: 50 }));
        // In flight, past retention, lease still live: kept.
        await store.idempotency.claim(req({ key: "live", retentionMs: 100, leaseMs: 5_000 }));
        // Left unsettled for a person, past retention: kept.
        await store.idempotency.claim(req({ key: "unknown", retentionMs: 100 }));
        await store.idempotency.complete("charge", "unknown", "call-a", failed, T0, "unsettled");
        expect(await store.idempotency.sweep(T0 + 200)).toBe(1);
        expect(await store.idempotency.get("charge", "done-old")).toBeUndefined();
        for (const key of ["dead", "done-new", "live", "unknown"]) expect(await store.idempotency.get("charge", key)).toBeDefined();
        expect(await store.idempotency.sweep(T0 + 1e12)).toBe(1);
        expect((await store.idempotency.claim(req({ key: "unknown", owner: "call-b", now: T0 + 1e12 }))).status).toBe("unsettled");
      });

      it("renew extends the lease of the owner's live claim only; a fence grows with every claim granted", async () => {
        const first = await store.idempotency.claim(req({ leaseMs: 600 }));
        expect(first.status).toBe("claimed");
        await pass(400);
        expect(await store.idempotency.renew("charge", "k1", "call-a", T0 + 1_000)).toBe(true);
        // Past the first lease, within the renewed one.
        await pass(300);
        expect((await store.idempotency.claim(req({ owner: "call-b", now: T0 + 700 }))).status).toBe("in_flight");
        expect(await store.idempotency.renew("charge", "k1", "call-b", T0 + 1_300)).toBe(false); // not the owner
        // Lapsed and taken over: the first owner's renewal fails, and the new claim's fence is greater.
        await pass(700);
        const taken = await store.idempotency.claim(req({ owner: "call-b", now: T0 + 1_000 }));
        expect(taken.status).toBe("lease_expired");
        expect((taken as { fence: number }).fence).toBeGreaterThan((first as { fence: number }).fence);
        expect(await store.idempotency.renew("charge", "k1", "call-a", T0 + 2_000)).toBe(false);
        expect(await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0 + 700)).toBe(false);
        expect(await store.idempotency.complete("charge", "k1", "call-b", ok(2), T0 + 700)).toBe(true);
        expect(await store.idempotency.renew("charge", "k1", "call-b", T0 + 2_000)).toBe(false); // completed: nothing to renew
        const other = await store.idempotency.claim(req({ key: "k2", owner: "call-c" }));
        expect((other as { fence: number }).fence).toBeGreaterThan((taken as { fence: number }).fence);
      });

      it("an unsettled claim is reported as such, to every caller, however long after", async () => {
        await store.idempotency.claim(req());
        expect(await store.idempotency.complete("charge", "k1", "call-a", failed, T0 + 1, "unsettled")).toBe(true);
        const r = await store.idempotency.claim(req({ owner: "call-b", now: T0 + 1e9 }));
        expect(r).toMatchObject({ status: "unsettled", record: { owner: "call-a", state: "unsettled", outcome: failed } });
        // Not completable by its owner any more, nor by anyone else.
        expect(await store.idempotency.complete("charge", "k1", "call-a", ok(1), T0 + 2)).toBe(false);
        expect((await store.idempotency.claim(req({ owner: "call-c", fingerprint: "other" }))).status).toBe("conflict");
      });

      it("replace takes over the record that owner left, once, with the generation asked for", async () => {
        await store.idempotency.claim(req());
        await store.idempotency.complete("charge", "k1", "call-a", ok("first"), T0 + 1);
        const take = { owner: "call-a", generation: 1 };
        expect(await store.idempotency.claim(req({ owner: "call-b", now: T0 + 2, replace: take }))).toMatchObject({ status: "claimed" });
        // A second caller that saw the same completed record does not take it again.
        expect((await store.idempotency.claim(req({ owner: "call-c", now: T0 + 3, replace: take }))).status).toBe("in_flight");
        expect(await store.idempotency.get("charge", "k1")).toMatchObject({ state: "in_flight", owner: "call-b", generation: 1 });
        expect(await store.idempotency.complete("charge", "k1", "call-b", ok("second"), T0 + 4)).toBe(true);
        // A lapsed lease is taken over with its generation (its owner may have run it under that key).
        await store.idempotency.claim(req({ key: "k2", leaseMs: 10 }));
        await store.idempotency.complete("charge", "k2", "call-a", failed, T0 + 1, "unsettled");
        expect(await store.idempotency.claim(req({ key: "k2", owner: "call-b", now: T0 + 2, replace: { owner: "call-a", generation: 0 } }))).toMatchObject({ status: "claimed" });
        expect(await store.idempotency.get("charge", "k2")).toMatchObject({ state: "in_flight", owner: "call-b", generation: 0 });
        // Other arguments are a conflict even with replace.
        expect((await store.idempotency.claim(req({ owner: "call-d", fingerprint: "other", replace: { owner: "call-b", generation: 2 } }))).status).toBe("conflict");
      });

      it("latestInRun names the run's most recently claimed settled key of a tool", async () => {
        const settle = async (key: string, owner: string, runId = "run-1", as: "completed" | "unsettled" = "completed") => {
          await store.idempotency.claim(req({ key, owner, runId }));
          await store.idempotency.complete("charge", key, owner, ok(key), T0 + 1, as);
        };
        expect(await store.idempotency.latestInRun("charge", "run-1", "run-1:charge:")).toBeUndefined();
        await settle("run-1:charge:A", "call-a");
        await settle("run-1:charge:B", "call-b");
        await settle("run-2:charge:C", "call-c", "run-2");
        await settle("run-1:chargeX", "call-x"); // not under the prefix
        await store.idempotency.claim(req({ key: "run-1:charge:D", owner: "call-d" })); // in flight: not yet done
        expect(await store.idempotency.latestInRun("charge", "run-1", "run-1:charge:")).toBe("run-1:charge:B");
        // A re-claimed record moves to the front.
        await store.idempotency.claim(req({ key: "run-1:charge:A", owner: "call-e", now: T0 + 2, replace: { owner: "call-a", generation: 1 } }));
        await store.idempotency.complete("charge", "run-1:charge:A", "call-e", ok("again"), T0 + 3);
        expect(await store.idempotency.latestInRun("charge", "run-1", "run-1:charge:")).toBe("run-1:charge:A");
        await settle("run-1:charge:F", "call-f", "run-1", "unsettled");
        expect(await store.idempotency.latestInRun("charge", "run-1", "run-1:charge:")).toBe("run-1:charge:F");
        expect(await store.idempotency.latestInRun("charge", "run-2", "run-2:charge:")).toBe("run-2:charge:C");
      });

      it("unfinished lists a run's claims in flight or unsettled, oldest first, across tools; completed and released ones drop out", async () => {
        expect(await store.idempotency.unfinished("run-1")).toEqual([]);
        await store.idempotency.claim(req({ key: "a", owner: "call-a" }));
        await store.idempotency.claim(req({ scope: "refund", key: "b", owner: "call-b", leaseMs: 100 }));
        await store.idempotency.claim(req({ key: "c", owner: "call-c" }));
        await store.idempotency.claim(req({ key: "d", owner: "call-d" }));
        await store.idempotency.claim(req({ key: "e", owner: "call-e", runId: "run-2" }));
        await store.idempotency.complete("charge", "a", "call-a", ok(1), T0 + 1);
        await store.idempotency.complete("charge", "c", "call-c", failed, T0 + 1, "unsettled");
        await store.idempotency.release("charge", "d", "call-d");
        const open = await store.idempotency.unfinished("run-1");
        expect(open.map((r) => [r.scope, r.key, r.owner, r.state])).toEqual([
          ["refund", "b", "call-b", "in_flight"],
          ["charge", "c", "call-c", "unsettled"],
        ]);
        expect(open[1]).toMatchObject({ runId: "run-1", outcome: failed });
        expect((await store.idempotency.unfinished("run-2")).map((r) => r.key)).toEqual(["e"]);
        // A lapsed claim taken over by another run's call belongs to that run now.
        await pass(100);
        await store.idempotency.claim(req({ scope: "refund", key: "b", owner: "call-f", runId: "run-3", now: T0 + 5_000 }));
        expect((await store.idempotency.unfinished("run-1")).map((r) => r.key)).toEqual(["c"]);
        expect((await store.idempotency.unfinished("run-3")).map((r) => r.owner)).toEqual(["call-f"]);
      });

      it("waitForChange wakes on complete", async () => {
        await store.idempotency.claim(req());
        expect((await store.idempotency.claim(req({ owner: "call-b" }))).status).toBe("in_flight");
        const started = Date.now();
        const waiting = store.idempotency.waitForChange("charge", "k1", 10_000);
        setTimeout(() => void store.idempotency.complete("charge", "k1", "call-a", ok(1), T0 + 1), 30);
        await waiting;
        expect(Date.now() - started).toBeLessThan(5_000);
        expect((await store.idempotency.claim(req({ owner: "call-b", now: T0 + 2 }))).status).toBe("completed");
      });

      it("waitForChange wakes on release", async () => {
        await store.idempotency.claim(req());
        const started = Date.now();
        const waiting = store.idempotency.waitForChange("charge", "k1", 10_000);
        setTimeout(() => void store.idempotency.release("charge", "k1", "call-a"), 30);
        await waiting;
        expect(Date.now() - started).toBeLessThan(5_000);
        expect((await store.idempotency.claim(req({ owner: "call-b" }))).status).toBe("claimed");
      });

      it("waitForChange times out when nothing changes", async () => {
        await store.idempotency.claim(req());
        const started = Date.now();
        await store.idempotency.waitForChange("charge", "k1", 120);
        const waited = Date.now() - started;
        expect(waited).toBeGreaterThanOrEqual(100);
        expect(waited).toBeLessThan(3_000);
      });

      it("waitForChange is not woken by another key", async () => {
        await store.idempotency.claim(req());
        await store.idempotency.claim(req({ key: "k2" }));
        const started = Date.now();
        const waiting = store.idempotency.waitForChange("charge", "k1", 300);
        await store.idempotency.complete("charge", "k2", "call-a", ok(1), T0);
        await waiting;
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      });

      it("JSON values round-trip exactly", async () => {
        const value = {
          text: "naïve café — 日本語 🚀 \u0000 \n\t\"quoted\" \\ \u2028",
          numbers: [0, -1, 1.5, -0.000001, 0.1 + 0.2, 1e300, -1e-300, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
          nested: { a: { b: { c: [1, [2, [3, { d: null }]]] } }, empty: {}, list: [] },
          flags: [true, false, null],
          "key with spaces": "v",
          "ключ": "значение",
        };
        await store.idempotency.claim(req());
        await store.idempotency.complete("charge", "k1", "call-a", ok(value), T0);
        const got = (await store.idempotency.get("charge", "k1"))?.outcome;
        expect(got).toEqual(ok(value));
        expect(JSON.stringify(got)).toBe(JSON.stringify(ok(value)));
        expect(Object.keys((got as { value: Record<string, unknown> }).value)).toEqual(Object.keys(value));
      });
    });

    describeRunConformance(() => store, T0);
    describeRecordConformance(() => store, T0);

    describeAlertConformance(() => store, T0);
    describeShadowConformance(() => store, T0);
    describeCallJournalConformance(() => store, T0);

    it("has a kind and closes", () => {
      expect(typeof store.kind).toBe("string");
    });
  });
}
