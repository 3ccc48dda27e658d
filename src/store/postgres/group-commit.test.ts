/**
 * Group commit on PostgreSQL (group-commit.ts): operations issued in one event-loop turn
 * share one statement, and each caller gets exactly what it would have got alone.
 */
import pg from "pg";
import { freshRun } from "../../run-record.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropSchemas, pgAvailable, PG_URL, schemaPrefix } from "../../../test/fixtures/store-pg.js";
import { GroupCommit, type Op, type Part } from "./group-commit.js";
import { postgresStore } from "./store.js";
import { StoreUnavailableError, type ClaimRequest, type MutationRecord, type Store } from "../types.js";

const up = await pgAvailable();
const prefix = schemaPrefix();
let n = 0;

type Stats = { statements: number; ops: number; retriedAlone: number };
const statsOf = (s: Store): Stats => ({ ...(s as unknown as { db: { group: { stats: Stats } } }).db.group.stats });

const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  scope: "charge",
  key: "k",
  fingerprint: "fp",
  owner: "a",
  runId: "r",
  now: 1_000,
  leaseMs: 60_000,
  retentionMs: 600_000,
  ...over,
});
const mutation = (id: string, seq: number): MutationRecord => ({
  id,
  runId: "r",
  seq,
  tool: "charge",
  effect: "write",
  args: { n: seq },
  output: { id: `ch_${seq}` },
  compensable: false,
  status: "done",
  at: 1_000 + seq,
});

// Needs no database: an operation alone in its statement runs as `alone`, here held open by hand.
describe("GroupCommit: operations on one key", () => {
  it("the next one is sent only once the statement holding the key has finished, though connections are free", async () => {
    const pool = new pg.Pool({ connectionString: PG_URL }); // never connects: no statement is combined
    const part: Part = { tag: "t", types: [], sql: () => ({}) };
    const group = new GroupCommit(pool, "s", "t", [part], [], "ch", 4, (e) => new StoreUnavailableError(String(e)), () => false);
    const events: string[] = [];
    let finish!: () => void;
    let started!: () => void;
    const firstStarted = new Promise<void>((r) => (started = r));
    const held = new Promise<void>((r) => (finish = r));
    const op = (name: string, gate?: Promise<void>): Op<string> => ({
      part,
      lock: "charge/k",
      row: [],
      answer: () => name,
      alone: async () => {
        events.push(`${name} sent`);
        if (gate) {
          started();
          await gate;
        }
        events.push(`${name} done`);
        return name;
      },
    });
    const results = Promise.all([group.run(op("complete", held)), group.run(op("claim"))]);
    await firstStarted;
    await new Promise((r) => setImmediate(r)); // the turn a statement sent after it would go in
    expect(events).toEqual(["complete sent"]);
    finish();
    expect(await results).toEqual(["complete", "claim"]);
    expect(events).toEqual(["complete sent", "complete done", "claim sent", "claim done"]);
    await pool.end();
  });
});

if (!up) {
  describe.skip(`PostgreSQL group commit (unreachable at ${PG_URL})`, () => {
    it("skipped", () => {});
  });
} else {
  afterAll(() => dropSchemas(prefix));

  describe("PostgreSQL group commit", () => {
    let store: Store;
    beforeEach(async () => {
      store = await postgresStore({ url: PG_URL, schema: `${prefix}_${n++}` });
    });
    afterEach(() => store.close());

    it("claims of one turn share one statement, each with its own answer", async () => {
      await store.idempotency.claim(req({ key: "taken", owner: "x" }));
      const before = statsOf(store);
      const results = await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => store.idempotency.claim(req({ key: `k${i}`, owner: `o${i}` }))),
        store.idempotency.claim(req({ key: "taken", owner: "y" })),
        store.idempotency.claim(req({ key: "taken", owner: "z", fingerprint: "other" })),
      ]);
      expect(results.slice(0, 30).every((r) => r.status === "claimed")).toBe(true);
      expect(results[30]!.status).toBe("in_flight");
      expect(results[31]!.status).toBe("conflict");
      const after = statsOf(store);
      expect(after.retriedAlone).toBe(before.retriedAlone);
      // the 30 fresh keys and the first "taken" in one statement; the second "taken" waits
      // for the next turn, where it is alone (a plain statement, not counted)
      expect(after.statements - before.statements).toBe(1);
      expect(after.ops - before.ops).toBe(31);
      for (let i = 0; i < 30; i++) expect((await store.idempotency.get("charge", `k${i}`))?.owner).toBe(`o${i}`);
    });

    it("concurrent claims on one key in one turn: exactly one wins, the others see it in flight", async () => {
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => store.idempotency.claim(req({ owner: `o${i}` }))));
      expect(results.filter((r) => r.status === "claimed")).toHaveLength(1);
      expect(results.filter((r) => r.status === "in_flight")).toHaveLength(15);
      const winner = results.findIndex((r) => r.status === "claimed");
      expect((await store.idempotency.get("charge", "k"))?.owner).toBe(`o${winner}`);
      for (const r of results) if (r.status === "in_flight") expect(r.record.owner).toBe(`o${winner}`);
    });

    it("a completion and its ledger entry go in one statement; a non-owner's completion in it is refused", async () => {
      await store.idempotency.claim(req({ key: "k1", owner: "a" }));
      await store.idempotency.claim(req({ key: "k2", owner: "b" }));
      const before = statsOf(store);
      const [done, ledger, stranger] = await Promise.all([
        store.idempotency.complete("charge", "k1", "a", { ok: true, value: { id: "ch_1" } }, 2_000),
        store.mutations.record(mutation("call-1", 1)),
        store.idempotency.complete("charge", "k2", "not-b", { ok: true, value: 1 }, 2_000),
      ]);
      expect(statsOf(store).statements - before.statements).toBe(1);
      expect([done, ledger, stranger]).toEqual([true, undefined, false]);
      const rec = await store.idempotency.get("charge", "k1");
      expect(rec?.state).toBe("completed");
      expect(rec?.outcome).toEqual({ ok: true, value: { id: "ch_1" } });
      expect((await store.idempotency.get("charge", "k2"))?.state).toBe("in_flight");
      expect(await store.mutations.list("r")).toEqual([mutation("call-1", 1)]);
    });

    it("operations on one key in one turn run in arrival order, in successive statements", async () => {
      await store.idempotency.claim(req({ owner: "a" }));
      const [done, replay] = await Promise.all([
        store.idempotency.complete("charge", "k", "a", { ok: true, value: 7 }, 2_000),
        store.idempotency.claim(req({ owner: "b", now: 2_001 })),
      ]);
      expect(done).toBe(true);
      expect(replay.status).toBe("completed");

      await store.idempotency.claim(req({ key: "r1", owner: "a" }));
      const [, again] = await Promise.all([
        store.idempotency.release("charge", "r1", "a"),
        store.idempotency.claim(req({ key: "r1", owner: "b" })),
      ]);
      expect(again.status).toBe("claimed");
      expect((await store.idempotency.get("charge", "r1"))?.owner).toBe("b");
    });

    it("one bad item fails alone: the others of its statement succeed", async () => {
      await store.idempotency.claim(req({ owner: "a" }));
      const before = statsOf(store);
      const results = await Promise.allSettled([
        store.mutations.record(mutation("good-1", 1)),
        store.mutations.record(mutation("bad\u0000id", 2)), // PostgreSQL refuses NUL in text
        store.idempotency.complete("charge", "k", "a", { ok: true, value: 1 }, 2_000),
        store.mutations.record(mutation("good-2", 3)),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      expect((results[2] as PromiseFulfilledResult<boolean>).value).toBe(true);
      expect(statsOf(store).retriedAlone - before.retriedAlone).toBe(4);
      expect((await store.mutations.list("r")).map((m) => m.id)).toEqual(["good-1", "good-2"]);
      expect((await store.idempotency.get("charge", "k"))?.state).toBe("completed");
    });

    it("the run commits and freeze reads of one turn share a statement; a commit from a stale version is refused", async () => {
      const { record: r1 } = await store.runs.create(freshRun("r1", "a", 1));
      const { record: r2 } = await store.runs.create(freshRun("r2", "a", 1));
      await store.runs.requestStop("r2", "enough", 1_700_000_000_123.5);
      await store.freezes.put({ id: "late", at: 20, reason: "b" });
      await store.freezes.put({ id: "early", at: 10, from: 5, to: 1e13 });
      const before = statsOf(store);
      const [c1, c2, freezes, again] = await Promise.all([
        store.runs.commit(r1, { ...r1, steps: 1, version: 1 }),
        store.runs.commit(r2, { ...r2, steps: 1, version: 1 }),
        store.freezes.list(),
        store.freezes.list(),
      ]);
      expect(statsOf(store).statements - before.statements).toBe(1);
      expect(c1).toEqual({ committed: true });
      expect(c2).toMatchObject({ committed: false, current: { version: 1, steps: 0, stopRequested: { reason: "enough", at: 1_700_000_000_123.5 } } });
      expect(freezes.map((f) => f.id)).toEqual(["early", "late"]);
      expect(freezes[0]).toEqual({ id: "early", at: 10, from: 5, to: 1e13 });
      expect(again).toEqual(freezes);
    });

    it("claims of one statement answer their run's stop: none, the one recorded, none for a run it does not know", async () => {
      await store.runs.create(freshRun("r1", "a", 1));
      await store.runs.create(freshRun("r2", "a", 1));
      await store.runs.requestStop("r2", "enough", 1_700_000_000_123.5);
      const before = statsOf(store);
      const claims = await Promise.all(["r1", "r2", "ghost"].map((runId, i) => store.idempotency.claim(req({ key: `k${i}`, runId }))));
      expect(statsOf(store).statements - before.statements).toBe(1);
      expect(claims).toEqual([
        { status: "claimed", fence: expect.any(Number), stop: null },
        { status: "claimed", fence: expect.any(Number), stop: { reason: "enough", at: 1_700_000_000_123.5 } },
        { status: "claimed", fence: expect.any(Number), stop: null },
      ]);
    });

    // The two halves of "a stop is in the claim's snapshot, or recorded after the claim
    // commits" (claimPart), each held open by hand with a plain connection.
    // Asked on a connection of its own: inside a transaction, pg_stat_activity stays as it was first read.
    const waitingOnLock = async (like: string) => {
      const w = new pg.Client({ connectionString: PG_URL });
      await w.connect();
      try {
        await expect
          .poll(async () => (await w.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1", [like])).rows[0].n, { timeout: 10_000 })
          .toBeGreaterThan(0);
      } finally {
        await w.end();
      }
    };

    /** A plain connection to hold a transaction open on, and the store's schema, with run r1 made. */
    const holding = async (test: (c: pg.Client, schema: string) => Promise<void>) => {
      await store.runs.create(freshRun("r1", "a", 1));
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await test(c, (store as unknown as { db: { r: { schema: string } } }).db.r.schema);
      } finally {
        await c.end();
      }
    };

    it("a stop waits for a claim that is being written, so that a look for claims in flight after it finds that claim", () =>
      holding(async (c, schema) => {
        await c.query("BEGIN");
        await c.query(`INSERT INTO "${schema}".idempotency (scope, key, fingerprint, owner, run_id, lease_until, lease_ms, created_at, expires_at, state)
                       VALUES ('charge', 'k', 'fp', 'elsewhere', 'r1', 1e15, 60000, 1, 1e15, 'in_flight')`);
        let stopped = false;
        const stopping = store.runs.requestStop("r1", "enough", 2_000).then((r) => (stopped = r));
        await waitingOnLock(`LOCK TABLE "${schema}"%`);
        expect(stopped).toBe(false);
        await c.query("COMMIT");
        expect(await stopping).toBe(true);
        expect((await store.idempotency.unfinished("r1")).map((u) => u.owner)).toEqual(["elsewhere"]);
      }));

    it("a claim sent while a stop is being recorded waits for it, and answers it", () =>
      holding(async (c, schema) => {
        // What requestStop does, held open before its commit.
        await c.query("BEGIN");
        await c.query(`LOCK TABLE "${schema}".idempotency IN SHARE MODE`);
        await c.query(`UPDATE "${schema}".runs SET stop_at = 2000, stop_reason = 'enough', version = version + 1 WHERE run_id = 'r1'`);
        const claiming = Promise.all([store.idempotency.claim(req({ key: "k1", runId: "r1" })), store.idempotency.claim(req({ key: "k2", runId: "r1" }))]);
        await waitingOnLock(`WITH%"${schema}".idempotency%`);
        await c.query("COMMIT");
        for (const claim of await claiming) expect(claim).toEqual({ status: "claimed", fence: expect.any(Number), stop: { reason: "enough", at: 2_000 } });
      }));

    it("a closed store refuses queued work", async () => {
      const s = await postgresStore({ url: PG_URL, schema: `${prefix}_${n++}` });
      await s.close();
      await expect(s.idempotency.claim(req())).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });

  describe("PostgreSQL without group commit", () => {
    it("still claims, completes and records, and a claim answers its run's stop", async () => {
      const s = await postgresStore({ url: PG_URL, schema: `${prefix}_${n++}`, groupCommit: false });
      try {
        const results = await Promise.all(Array.from({ length: 4 }, (_, i) => s.idempotency.claim(req({ owner: `o${i}` }))));
        expect(results.filter((r) => r.status === "claimed")).toHaveLength(1);
        // A claim alone answers its run's stop too, from its own statement.
        await s.runs.create(freshRun("r1", "a", 1));
        expect(await s.idempotency.claim(req({ key: "k1", runId: "r1" }))).toEqual({ status: "claimed", fence: expect.any(Number), stop: null });
        await s.runs.requestStop("r1", "enough", 2_000);
        expect(await s.idempotency.claim(req({ key: "k2", runId: "r1" }))).toEqual({ status: "claimed", fence: expect.any(Number), stop: { reason: "enough", at: 2_000 } });
      } finally {
        await s.close();
      }
    });
  });
}
