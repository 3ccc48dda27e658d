/**
 * A stop against writes in flight in another process, on SQLite and PostgreSQL: a process
 * books seats on 16 runs, and another rolls them back while it does. Each rollback stops the run, waits for the claims it finds in flight and undoes
 * every recorded booking; a call that claimed its key after the stop must not execute, or
 * its booking would outlive the rollback. So the world ends empty, every round. (Where the
 * stop check is answered with the claim, see RunStop in store/idempotency-types.ts.)
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRuntime } from "../src/index.js";
import { BookingWorld, bookTool } from "./fixtures/booking-world.js";
import { spawnChild } from "./fixtures/child-process.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const childScript = fileURLToPath(new URL("./fixtures/stop-race-child.ts", import.meta.url));
const { dir, prefix, up } = await scratchStores("stop-race");

let n = 0;
const stores = [
  { name: "SQLite", spec: () => `sqlite:${join(dir, `store-${n++}.db`)}` },
  { name: "PostgreSQL", spec: () => `${PG_URL}?schema=${prefix}_${n++}` },
] as const;

describe.each(stores)("rollbacks from another process while writes of their runs are in flight, on $name", ({ name, spec }) => {
  it.skipIf(name === "PostgreSQL" && !up)("leave no booking behind that they do not report, round after round", async () => {
    const store = spec();
    const rt = createRuntime({ store, onError: () => {} });
    await rt.ready();
    try {
      for (let round = 0; round < 3; round++) {
        const worldPath = join(dir, `world-${n++}.db`);
        const world = new BookingWorld(worldPath);
        const runIds = Array.from({ length: 16 }, (_, k) => `run-${n}-${k}`);
        const child = spawnChild(childScript, { store, world: worldPath, runIds });
        try {
          expect(await child.next()).toEqual({ ready: true });
          const seatOf = new Map<string, string>();
          const executing = async () => {
            const line = await child.next();
            if ("event" in line) seatOf.set(line.callId, line.seat);
            return line;
          };
          // Stopped in the thick of it: after some bookings, with more arriving.
          while (seatOf.size < 40 + 20 * round) expect(await executing()).toMatchObject({ event: "executing" });
          const book = bookTool(world, "parent");
          const reports = await Promise.all(runIds.map((id) => rt.rollback(id, [book], { waitMs: 20_000 })));
          let line;
          while ("event" in (line = await executing()));
          expect(line).toEqual({ done: { kinds: ["run_halted"] } });
          expect(reports.reduce((k, r) => k + r.undone.length, 0)).toBeGreaterThan(0);
          const reported = reports.flatMap((r) => r.inFlight.map((c) => seatOf.get(c.callId)));
          for (const seat of world.seats()) expect(reported).toContain(seat);
        } finally {
          await child.kill();
          world.close();
        }
      }
    } finally {
      await rt.close();
    }
  }, 120_000);
});
