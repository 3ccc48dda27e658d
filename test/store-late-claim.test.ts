/**
 * A claim that the client gave up on must not be applied by PostgreSQL afterwards. With the
 * idempotency table locked by another session, the claim's INSERT waits for the lock; the
 * client's query timeout passes, the call fails as store_unavailable and never runs. Had
 * the server applied the INSERT once the lock was released, the key would be held by a call
 * that never ran: its repeat would wait for the lease, then read write_unverified for ever.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, type Store } from "../src/index.js";
import { postgresStore } from "../src/store/postgres/store.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const { dir, prefix, up } = await scratchStores("late-claim");

/** A store whose client gives up after about 500 ms, and a way to lock its idempotency table from another session (returns the unlock). */
const stores = [
  {
    name: "PostgreSQL",
    skip: !up,
    open: async () => {
      const schema = `${prefix}_locked`;
      const store = await postgresStore({ url: PG_URL, schema, queryTimeoutMs: 500 });
      const lock = async () => {
        const locker = new pg.Client({ connectionString: PG_URL });
        await locker.connect();
        await locker.query("BEGIN");
        await locker.query(`LOCK TABLE "${schema}".idempotency IN ACCESS EXCLUSIVE MODE`);
        return async () => {
          await locker.query("COMMIT");
          await locker.end();
        };
      };
      return { store: store as Store, lock };
    },
  },
  {
    name: "SQLite",
    skip: false,
    open: async () => {
      const path = join(dir, "locked.db");
      const store = sqliteStore({ path, busyTimeoutMs: 500 });
      const lock = async () => {
        const other = new Database(path);
        other.exec("BEGIN EXCLUSIVE");
        return async () => {
          other.exec("COMMIT");
          other.close();
        };
      };
      return { store, lock };
    },
  },
];

describe.each(stores)("a claim the client gave up on ($name, the table locked by another session)", ({ skip, open }) => {
  it.skipIf(skip)("is not applied later by the server: the repeat runs once, never write_unverified, never twice", async () => {
    const { store, lock } = await open();
    const rt = createRuntime({ store, idempotency: { leaseMs: 300 }, onError: () => {} });
    let runs = 0;
    const charge = defineTool({ name: "charge", effect: "write", idempotencyKey: (a: { invoice: string }) => a.invoice, execute: async () => ++runs });
    // Make the run's record first, so that only the claim meets the lock.
    const run = rt.startRun({ agent: "billing" });
    await run.ready();

    const unlock = await lock();
    try {
      const first = await run.call(charge, { invoice: "in-1" });
      expect(first).toMatchObject({ ok: false, failure: { kind: "store_unavailable" } });
      expect(runs).toBe(0);
    } finally {
      await unlock();
    }
    // Whatever the server was going to do with the claim, it has done by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.idempotency.get("charge", "in-1")).toBeUndefined();

    const repeat = await rt.startRun({ agent: "billing" }).call(charge, { invoice: "in-1" });
    expect(repeat).toMatchObject({ ok: true, value: 1, replayed: false });
    const again = await rt.startRun({ agent: "billing" }).call(charge, { invoice: "in-1" });
    expect(again).toMatchObject({ ok: true, value: 1, replayed: true });
    expect(runs).toBe(1);
    await rt.close();
  });
});
