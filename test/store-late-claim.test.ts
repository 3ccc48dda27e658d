/**
 * A claim that the client gave up on must not be applied by PostgreSQL afterwards. With the
 * idempotency table locked by another session, the claim's INSERT waits for the lock; the
 * client's query timeout passes, the call fails as store_unavailable and never runs. Had
 * the server applied the INSERT once the lock was released, the key would be held by a call
 * that never ran: its repeat would wait for the lease, then read write_unverified for ever.
 */
import { describe, expect, it } from "vitest";
import pg from "pg";
import { createRuntime, defineTool } from "../src/index.js";
import { postgresStore } from "../src/store/postgres.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const { prefix, up } = await scratchStores("late-claim");

describe("a claim the client gave up on (PostgreSQL, the table locked)", () => {
  it.skipIf(!up)("is not applied later by the server: the repeat runs once, never write_unverified, never twice", async () => {
    const schema = `${prefix}_locked`;
    const store = await postgresStore({ url: PG_URL, schema, queryTimeoutMs: 500 });
    const rt = createRuntime({ store, idempotency: { leaseMs: 300 }, onError: () => {} });
    let runs = 0;
    const charge = defineTool({ name: "charge", effect: "write", idempotencyKey: (a: { invoice: string }) => a.invoice, execute: async () => ++runs });
    // Make the run's record first, so that only the claim meets the lock.
    const run = rt.startRun({ agent: "billing" });
    await run.ready();

    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query(`LOCK TABLE "${schema}".idempotency IN ACCESS EXCLUSIVE MODE`);
      const first = await run.call(charge, { invoice: "in-1" });
      expect(first).toMatchObject({ ok: false, failure: { kind: "store_unavailable" } });
      expect(runs).toBe(0);
      await locker.query("COMMIT");
    } finally {
      await locker.end();
    }
    // Whatever the server was going to do with the INSERT, it has done by now.
    await new Promise((r) => setTimeout(r, 300));
    const { rows } = await store.idempotency.get("charge", "in-1").then((r) => ({ rows: r ? [r] : [] }));
    expect(rows).toEqual([]);

    const repeat = await rt.startRun({ agent: "billing" }).call(charge, { invoice: "in-1" });
    expect(repeat).toMatchObject({ ok: true, value: 1, replayed: false });
    const again = await rt.startRun({ agent: "billing" }).call(charge, { invoice: "in-1" });
    expect(again).toMatchObject({ ok: true, value: 1, replayed: true });
    expect(runs).toBe(1);
    await rt.close();
  });
});
