import { freshRun } from "../../run-record.js";
import { afterAll, describe, expect, it } from "vitest";
import { dropSchemas, pgAvailable, pgExec, PG_URL, schemaPrefix } from "../../../test/fixtures/store-pg.js";
import { describeStoreConformance } from "../conformance.js";
import { postgresStore } from "./store.js";
import { StoreUnavailableError, type Store } from "../types.js";

const up = await pgAvailable();
const prefix = schemaPrefix();
let n = 0;
const open = (schema = `${prefix}_${n++}`, extra: object = {}) => postgresStore({ url: PG_URL, schema, ...extra });

if (!up) {
  describe.skip(`PostgreSQL store (unreachable at ${PG_URL})`, () => {
    it("skipped", () => {});
  });
} else {
  afterAll(() => dropSchemas(prefix));

  // Leases are judged by the database's clock (see store.ts, "Leases").
  describeStoreConformance("postgres", () => open(), { leaseClock: "store" });

  describe("PostgreSQL store", () => {
    it("accepts ?schema= in the URL", async () => {
      const schema = `${prefix}_url`;
      const s = await postgresStore(`${PG_URL}?schema=${schema}`);
      try {
        await s.breakers.put({ tool: "t", state: "closed", updatedAt: 1 });
        const { rows } = await pgExec(`SELECT count(*)::int AS n FROM "${schema}".breakers`);
        expect(rows[0]).toEqual({ n: 1 });
      } finally {
        await s.close();
      }
    });

    it("migrations are versioned and idempotent when several processes open at once", async () => {
      const schema = `${prefix}_race`;
      const stores = await Promise.all(Array.from({ length: 4 }, () => open(schema)));
      await Promise.all(stores.map((s) => s.close()));
      const { rows } = await pgExec(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
      expect(rows).toEqual([
        { version: 1, name: "initial" },
        { version: 2, name: "freezes" },
        { version: 3, name: "unsettled claims and generations" },
        { version: 4, name: "alerts and monitors" },
        { version: 5, name: "shadow decisions" },
        { version: 6, name: "durable runs" },
        { version: 7, name: "leases on the database clock" },
        { version: 8, name: "call journal" },
      ]);
    });

    it.each([true, false])("judges leases by the database's clock, whatever now its callers pass (group commit: %s)", async (groupCommit) => {
      const s = await open(undefined, { groupCommit });
      try {
        const claim = { scope: "charge", key: "k", fingerprint: "fp", runId: "r", leaseMs: 60_000, retentionMs: 60_000 };
        // A caller whose clock is years behind: its lease still ends a minute from the database's now.
        expect(await s.idempotency.claim({ ...claim, owner: "behind", now: 1_700_000_000_000 })).toMatchObject({ status: "claimed" });
        const held = await s.idempotency.get("charge", "k");
        expect(Math.abs(held!.leaseUntil - (Date.now() + 60_000))).toBeLessThan(1_000);
        // A caller years ahead finds it live, and is told when it lapses on its own clock.
        const ahead = Date.now() + 10 * 365 * 86_400_000;
        const r = await s.idempotency.claim({ ...claim, owner: "ahead", now: ahead });
        expect(r.status).toBe("in_flight");
        const left = (r as { record: { leaseUntil: number } }).record.leaseUntil - ahead;
        expect(left).toBeGreaterThan(55_000);
        expect(left).toBeLessThanOrEqual(60_000);
      } finally {
        await s.close();
      }
    });

    it("an unreachable database is a clear error at open, within the connect timeout", async () => {
      const started = Date.now();
      const err = await postgresStore({ url: "postgres://postgres@127.0.0.1:1/test", connectTimeoutMs: 2_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(err.message).toMatch(/^cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test: .*ECONNREFUSED/);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it("a password never appears in messages", async () => {
      const err = await postgresStore({ url: "postgres://u:s3cret@127.0.0.1:1/test", connectTimeoutMs: 1_000 }).catch((e) => e);
      expect(err.message).not.toContain("s3cret");
      expect(err.message).toContain("u:***@");
    });

    it("rejects a bad schema name", async () => {
      await expect(postgresStore({ url: PG_URL, schema: "x; drop table" })).rejects.toThrow(/invalid PostgreSQL schema name/);
    });

    it("survives its connections being killed (a restart): a failed call is StoreUnavailableError, the next works", async () => {
      const schema = `${prefix}_restart`;
      const s: Store = await open(schema);
      try {
        await s.runs.create(freshRun("r", "a", 1));
        await s.idempotency.claim({ scope: "t", key: "k", fingerprint: "f", owner: "o", runId: "r", now: 1, leaseMs: 10, retentionMs: 10 });
        const waiting = s.idempotency.waitForChange("t", "k", 5_000); // holds the LISTEN connection
        await new Promise((r) => setTimeout(r, 50));
        await pgExec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
          [`bulwark:${schema}`],
        );
        await waiting; // the lost LISTEN connection wakes its waiters
        const first = await s.runs.get("r").then(
          (r) => r,
          (e) => e,
        );
        if (first instanceof Error) expect(first).toBeInstanceOf(StoreUnavailableError);
        else expect(first?.runId).toBe("r");
        expect((await s.runs.get("r"))?.runId).toBe("r");
        // LISTEN is re-made: a waiter is woken by a completion again.
        const w = s.idempotency.waitForChange("t", "k", 5_000);
        const started = Date.now();
        setTimeout(() => void s.idempotency.complete("t", "k", "o", { ok: true, value: 1 }, 2), 30);
        await w;
        expect(Date.now() - started).toBeLessThan(3_000);
      } finally {
        await s.close();
      }
    });

    it("a closed store throws StoreUnavailableError", async () => {
      const s = await open();
      await s.close();
      await expect(s.runs.get("x")).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it("waitForChange is woken by another store instance (another process) through NOTIFY", async () => {
      const schema = `${prefix}_notify`;
      const a = await open(schema);
      const b = await open(schema);
      try {
        const req = { scope: "t", key: "k", fingerprint: "f", runId: "r", now: 1, leaseMs: 60_000, retentionMs: 60_000 };
        expect((await a.idempotency.claim({ ...req, owner: "a" })).status).toBe("claimed");
        expect((await b.idempotency.claim({ ...req, owner: "b" })).status).toBe("in_flight");
        const started = Date.now();
        const w = b.idempotency.waitForChange("t", "k", 10_000);
        setTimeout(() => void a.idempotency.complete("t", "k", "a", { ok: true, value: "x" }, 2), 50);
        await w;
        expect(Date.now() - started).toBeLessThan(2_000);
        const r = await b.idempotency.claim({ ...req, owner: "b", now: 3 });
        expect(r.status).toBe("completed");
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("a change between the in_flight claim and the wait is not missed", async () => {
      const schema = `${prefix}_gap`;
      const a = await open(schema);
      const b = await open(schema);
      try {
        const req = { scope: "t", key: "k", fingerprint: "f", runId: "r", now: 1, leaseMs: 60_000, retentionMs: 60_000 };
        await a.idempotency.claim({ ...req, owner: "a" });
        expect((await b.idempotency.claim({ ...req, owner: "b" })).status).toBe("in_flight");
        await a.idempotency.complete("t", "k", "a", { ok: true, value: 1 }, 2);
        const started = Date.now();
        await b.idempotency.waitForChange("t", "k", 10_000);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
}
