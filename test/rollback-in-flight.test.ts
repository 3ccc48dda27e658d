/**
 * `rt.rollback(runId)` from another process while a write of the run is in flight, on
 * SQLite and PostgreSQL: the rollback stops the run, waits for the write to settle and
 * undoes it; a write that outlives the wait is reported in flight, never read as "no
 * changes"; a call admitted before the stop that claims its key after it does not execute.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool } from "../src/index.js";
import { BookingWorld, bookTool } from "./fixtures/booking-world.js";
import { spawnChild } from "./fixtures/child-process.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const childScript = fileURLToPath(new URL("./fixtures/rollback-child.ts", import.meta.url));
const { dir, prefix, up } = await scratchStores("rollback-in-flight");

let n = 0;
const stores = [
  { name: "SQLite", spec: () => `sqlite:${join(dir, `store-${n++}.db`)}` },
  { name: "PostgreSQL", spec: () => `${PG_URL}?schema=${prefix}_${n++}` },
] as const;

/** A runtime here, a child process working run `runId` on the same store, and the world they book in. */
async function setup(spec: string) {
  const store = spec;
  const worldPath = join(dir, `world-${n++}.db`);
  const world = new BookingWorld(worldPath);
  const runId = `run-${n++}`;
  const rt = createRuntime({ store, onError: () => {} });
  await rt.ready();
  const child = spawnChild(childScript, { store, world: worldPath, runId });
  expect(await child.next()).toEqual({ ready: true });
  const book = bookTool(world, "parent");
  const done = async () => {
    await child.kill();
    await rt.close();
    world.close();
  };
  return { rt, child, world, runId, book, done };
}

describe.each(stores)("rollback while a write is in flight in another process, on $name", ({ name, spec }) => {
  it.skipIf(name === "PostgreSQL" && !up)("waits for the write to land and undoes it; the stopped run executes nothing more", async () => {
    const { rt, child, world, runId, book, done } = await setup(spec());
    try {
      child.send({ op: "book", seat: "12A", delayMs: 1_000 });
      expect(await child.next()).toEqual({ event: "executing" });
      expect(world.seats()).toEqual([]);
      const report = await rt.rollback(runId, [book]);
      // The booking landed during the wait and was undone with the rest.
      expect(report).toMatchObject({ complete: true, inFlight: [] });
      expect(report.undone.map((s) => [s.tool, s.args])).toEqual([["book", { seat: "12A", delayMs: 1_000 }]]);
      expect(world.seats()).toEqual([]);
      expect(await child.next()).toEqual({ outcome: "ok" });
      // Stopped in the store: the child's next call does not execute.
      child.send({ op: "book", seat: "12B", delayMs: 0 });
      expect(await child.next()).toEqual({ outcome: "run_halted" });
      expect(world.seats()).toEqual([]);
    } finally {
      await done();
    }
  }, 30_000);

  it.skipIf(name === "PostgreSQL" && !up)("reports a write that outlives the wait as in flight, and a later rollback undoes it", async () => {
    const { rt, child, world, runId, book, done } = await setup(spec());
    try {
      child.send({ op: "book", seat: "7C", delayMs: 2_000 });
      expect(await child.next()).toEqual({ event: "executing" });
      const first = await rt.rollback(runId, [book], { waitMs: 200 });
      expect(first.complete).toBe(false);
      expect(first.steps).toEqual([]);
      expect(first.inFlight).toEqual([expect.objectContaining({ tool: "book", state: "in_flight" })]);
      expect(first.summary).toMatch(/1 call NOT settled/);
      expect(first.summary).not.toMatch(/recorded no changes/);
      expect(await child.next()).toEqual({ outcome: "ok" });
      expect(world.seats()).toEqual(["7C"]);
      const second = await rt.rollback(runId, [book], { waitMs: 200 });
      expect(second).toMatchObject({ complete: true, inFlight: [] });
      expect(second.undone.map((s) => s.mutationId)).toEqual([first.inFlight[0]!.callId]);
      expect(world.seats()).toEqual([]);
    } finally {
      await done();
    }
  }, 30_000);

  it.skipIf(name === "PostgreSQL" && !up)("a call admitted before the stop that claims its key after it does not execute", async () => {
    const store = spec();
    const world = new BookingWorld(join(dir, `world-${n++}.db`));
    const here = createRuntime({ store, onError: () => {} });
    const elsewhere = createRuntime({ store, onError: () => {} });
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    let ruled!: () => void;
    const inRules = new Promise<void>((r) => (ruled = r));
    // Its rules take their time: admitted (the step reserved), the key not yet claimed.
    const slow = bookTool(world, "here");
    const book = defineTool({ ...slow.spec, rules: [async () => (ruled(), await held, undefined)] });
    try {
      const run = here.startRun({ agent: "a", runId: `run-${n++}` });
      const call = run.call(book, { seat: "1A", delayMs: 0 });
      await inRules;
      await elsewhere.ready();
      await expect.poll(async () => (await elsewhere.store.runs.get(run.id))?.steps).toBe(1);
      const report = await elsewhere.rollback(run.id, [book], { waitMs: 100 });
      expect(report).toMatchObject({ steps: [], inFlight: [] });
      letGo();
      const o = await call;
      expect(o.ok ? "ok" : o.failure.kind).toBe("run_halted");
      expect(world.seats()).toEqual([]);
      expect(await elsewhere.store.idempotency.unfinished(run.id)).toEqual([]);
    } finally {
      letGo();
      await here.close();
      await elsewhere.close();
      world.close();
    }
  }, 30_000);
});
