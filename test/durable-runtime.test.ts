/**
 * Durability through the public API (`createRuntime({ store: "sqlite:…" | "postgres://…" })`),
 * with real processes where a second process is the point: a freeze declared by one
 * runtime holds in another; a process SIGKILLed between a write's effect and its record
 * neither repeats nor loses the effect; a store that goes away mid-run fails writes
 * closed and loses nothing; a runtime whose SQLite file is deleted and made anew by another
 * process fails its writes closed (one effect); four processes racing on one key make one effect; expired
 * idempotency records are swept.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { createRuntime, defineTool, ManualClock, memoryStore } from "../src/index.js";
import type { Outcome, Store } from "../src/index.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { pgExec, PG_URL, scratchStores } from "./fixtures/store-pg.js";
import { openWorld, type WorldSpec } from "./fixtures/world.js";
import { spawnChild, type Child } from "./fixtures/child-process.js";

const childScript = fileURLToPath(new URL("./fixtures/runtime-child.ts", import.meta.url));
const { dir, prefix, up } = await scratchStores("durable");

let n = 0;
interface Backend {
  name: "SQLite" | "PostgreSQL";
  /** A fresh store spec and world, for one test. */
  fresh(): { spec: string; world: WorldSpec; schema?: string };
}
const backends: Backend[] = [
  {
    name: "SQLite",
    fresh: () => {
      const i = n++;
      return { spec: `sqlite:${join(dir, `store-${i}.db`)}`, world: { kind: "sqlite", path: join(dir, `world-${i}.db`) } };
    },
  },
  {
    name: "PostgreSQL",
    fresh: () => {
      const schema = `${prefix}_${n++}`;
      return { spec: `${PG_URL}?schema=${schema}`, world: { kind: "postgres", url: PG_URL, schema: `${schema}_world` }, schema };
    },
  },
];
const skip = (b: Backend) => b.name === "PostgreSQL" && !up;

// ---------------------------------------------------------------- a runtime in a child process

async function child(cfg: { store: string; world: WorldSpec; hang?: "before" | "after"; runId?: string; leaseMs?: number }): Promise<Child> {
  const c = spawnChild(childScript, cfg);
  expect(await c.next()).toEqual({ ready: true });
  return c;
}

// ---------------------------------------------------------------- the parent's tools

type ChargeArgs = { key: string; amount: number };

/** The same tool as the child's ("charge", keyed by args.key), with or without a verify probe. */
function chargeTool(world: { insert(key: string, by: string): Promise<void>; count(key: string): Promise<number> }, o: { probe?: boolean; gate?: Promise<void>; started?: () => void } = {}) {
  return defineTool({
    name: "charge",
    effect: "write",
    retry: false,
    timeoutMs: 60_000,
    idempotencyKey: (a: ChargeArgs) => a.key,
    execute: async (a: ChargeArgs) => {
      o.started?.();
      await o.gate;
      await world.insert(a.key, "parent");
      return { charged: a.key, amount: a.amount, by: "parent" };
    },
    ...(o.probe === false ? {} : { verify: async (a: ChargeArgs) => (await world.count(a.key)) > 0 }),
  });
}
const balance = defineTool({ name: "balance", effect: "read", execute: async () => ({ balance: 42 }) });

const kindOf = (o: Outcome<unknown>) => (o.ok ? "ok" : o.failure.kind);

// ---------------------------------------------------------------- freezes across processes

describe.each(backends)("a freeze declared by one runtime, $name", (b) => {
  it.skipIf(skip(b))("holds in a runtime of another process from its next write; reads go on; lifting it lets writes go on", async () => {
    const { spec, world } = b.fresh();
    const rt = createRuntime({ store: spec, onError: () => {} });
    await rt.ready();
    const w = await openWorld(world);
    const c = await child({ store: spec, world });
    try {
      expect((await c.ask({ op: "charge", args: { key: "before", amount: 1 } })).outcome).toMatchObject({ ok: true });

      // A window that starts in an hour: not a freeze yet.
      const later = await rt.freeze("next release", { from: Date.now() + 3_600_000, to: Date.now() + 7_200_000 });
      expect((await c.ask({ op: "charge", args: { key: "windowed", amount: 1 } })).outcome).toMatchObject({ ok: true });

      const f = await rt.freeze("incident 42", { by: "ann" });
      const frozen = (await c.ask({ op: "charge", args: { key: "during", amount: 1 } })).outcome;
      expect(frozen).toMatchObject({ ok: false, failure: { kind: "frozen", detail: { reason: "incident 42" } } });
      expect(await w.count("during")).toBe(0);
      expect((await c.ask({ op: "read" })).outcome).toMatchObject({ ok: true, value: { balance: 42 } });

      expect((await rt.freezes()).map((x) => x.id)).toEqual([later.id, f.id]);
      expect(await rt.unfreeze(f.id)).toBe(1);
      expect((await c.ask({ op: "charge", args: { key: "during", amount: 1 } })).outcome).toMatchObject({ ok: true, replayed: false });
      expect(await w.count("during")).toBe(1);
      c.send({ op: "exit" });
      expect(await c.exited).toBe(0);
    } finally {
      await c.kill();
      await rt.close();
      await w.close();
    }
  }, 20_000);
});

// ---------------------------------------------------------------- crash safety

describe.each(backends)("a process killed between a write's effect and its record, $name", (b) => {
  it.skipIf(skip(b))("is settled by the next runtime: never twice, never silently lost", async () => {
    const { spec, world } = b.fresh();
    const w = await openWorld(world);
    // Three children, one per case: killed after the effect (probe / no probe), killed before it.
    // Their leases are short: PostgreSQL judges leases by its own clock, so they lapse in real time.
    const leaseMs = 1_000;
    const [afterA, afterB, before] = await Promise.all([
      child({ store: spec, world, hang: "after", leaseMs }),
      child({ store: spec, world, hang: "after", leaseMs }),
      child({ store: spec, world, hang: "before", leaseMs }),
    ]);
    afterA.send({ op: "charge", args: { key: "probed", amount: 7 } });
    afterB.send({ op: "charge", args: { key: "unprobed", amount: 7 } });
    before.send({ op: "charge", args: { key: "not-done", amount: 7 } });
    expect(await afterA.next()).toEqual({ event: "effect" });
    expect(await afterB.next()).toEqual({ event: "effect" });
    expect(await before.next()).toEqual({ event: "executing" });
    await Promise.all([afterA.kill(), afterB.kill(), before.kill()]);
    expect([await w.count("probed"), await w.count("unprobed"), await w.count("not-done")]).toEqual([1, 1, 0]);

    // A new runtime, its clock past the dead children's leases: on SQLite, leases are judged by
    // the caller's clock; on PostgreSQL, by the database's, so its calls wait (a second) for them.
    const clock = new ManualClock(Date.now() + 60 * 60_000);
    const rt = createRuntime({ store: spec, clock, onError: () => {}, idempotency: { leaseMs } });
    try {
      const withProbe = chargeTool(w);
      const noProbe = chargeTool(w, { probe: false });

      // The probe sees the row: the key is completed and replayed, not run again.
      const settled = await rt.startRun({ agent: "restart" }).call(withProbe, { key: "probed", amount: 7 });
      expect(settled).toMatchObject({ ok: true, replayed: true, recovered: true });
      expect(await w.count("probed")).toBe(1);
      expect(await rt.startRun({ agent: "again" }).call(noProbe, { key: "probed", amount: 7 })).toMatchObject({ ok: true, replayed: true });
      expect(await w.count("probed")).toBe(1);

      // No probe: nobody can tell, so it is refused for a person to settle, and stays refused.
      const unsettled = await rt.startRun({ agent: "restart" }).call(noProbe, { key: "unprobed", amount: 7 });
      expect(kindOf(unsettled)).toBe("write_unverified");
      // The refusing caller keeps the claim it took over (a release would let the next one
      // run the effect again): a third caller waits out that lease, then is refused too.
      await clock.advance(10 * 60_000);
      const third = await rt.startRun({ agent: "again" }).call(noProbe, { key: "unprobed", amount: 7 });
      expect(kindOf(third)).toBe("write_unverified");
      expect(await w.count("unprobed")).toBe(1);

      // The probe sees nothing (killed before the effect): it runs, once.
      const ran = await rt.startRun({ agent: "restart" }).call(withProbe, { key: "not-done", amount: 7 });
      expect(ran).toMatchObject({ ok: true, replayed: false, value: { charged: "not-done", by: "parent" } });
      expect(await w.count("not-done")).toBe(1);
      expect(await rt.startRun({ agent: "again" }).call(withProbe, { key: "not-done", amount: 7 })).toMatchObject({
        ok: true,
        replayed: true,
        value: { charged: "not-done", by: "parent" },
      });
      expect(await w.count("not-done")).toBe(1);
    } finally {
      await rt.close();
      await w.close();
    }
  }, 30_000);
});

// ---------------------------------------------------------------- the store going away

describe("the store going away mid-run", () => {
  it.skipIf(!up)("PostgreSQL: connections killed between calls and during a slow write; writes never run unclaimed, reads go on, nothing is lost", async () => {
    const { spec, world, schema } = backends[1]!.fresh();
    const w = await openWorld(world);
    const errors: unknown[] = [];
    const rt = createRuntime({ store: spec, onError: (e) => errors.push(e) });
    await rt.ready();
    const kill = async () => {
      const { rows } = await pgExec(
        "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
        [`bulwark:${schema}`],
      );
      return rows.length;
    };
    try {
      const run = rt.startRun({ agent: "agent" });
      const charge = chargeTool(w);
      const first = await run.call(charge, { key: "k1", amount: 1 });
      expect(first).toMatchObject({ ok: true, replayed: false });

      // Between calls.
      expect(await kill()).toBeGreaterThan(0);
      expect(await run.call(balance, {})).toMatchObject({ ok: true });
      let second = await run.call(charge, { key: "k2", amount: 2 });
      for (let i = 0; !second.ok && i < 20; i++) {
        expect(kindOf(second)).toBe("store_unavailable");
        expect(await w.count("k2")).toBe(0); // failed closed: not executed
        await new Promise((r) => setTimeout(r, 50));
        second = await rt.startRun({ agent: "agent" }).call(charge, { key: "k2", amount: 2 });
      }
      expect(second).toMatchObject({ ok: true, replayed: false });
      expect(await w.count("k2")).toBe(1);

      // In the middle of a slow write: the claim is made, the effect runs while every
      // connection is killed, and the outcome is recorded on a new one.
      let open!: () => void;
      let started!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const inExecute = new Promise<void>((r) => (started = r));
      const slow = chargeTool(w, { gate, started });
      const third = run.call(slow, { key: "k3", amount: 3 });
      await inExecute;
      expect(await kill()).toBeGreaterThan(0);
      open();
      expect(await third).toMatchObject({ ok: true, replayed: false });
      expect(await w.count("k3")).toBe(1);
      expect(await run.call(balance, {})).toMatchObject({ ok: true });

      // Nothing recorded before is lost: every completed call replays, none runs again.
      const later = rt.startRun({ agent: "later" });
      for (const [key, amount] of [["k1", 1], ["k2", 2], ["k3", 3]] as const) {
        let again = await later.call(charge, { key, amount });
        for (let i = 0; !again.ok && kindOf(again) === "store_unavailable" && i < 20; i++) {
          await new Promise((r) => setTimeout(r, 50));
          again = await later.call(charge, { key, amount });
        }
        expect(again).toMatchObject({ ok: true, replayed: true, value: { charged: key, amount } });
        expect(await w.count(key)).toBe(1);
      }
      expect((await rt.store.mutations.list(run.id)).map((m) => (m.args as ChargeArgs).key)).toEqual(expect.arrayContaining(["k1", "k3"]));
    } finally {
      await rt.close();
      await w.close();
    }
  }, 30_000);

  it("SQLite: a write while another connection holds the file beyond the busy timeout fails closed, unexecuted; then runs", async () => {
    const path = join(dir, `locked-${n++}.db`);
    const store = sqliteStore({ path, busyTimeoutMs: 100 });
    const rt = createRuntime({ store, onError: () => {} });
    let executed = 0;
    const charge = defineTool({
      name: "charge",
      effect: "write",
      idempotencyKey: (a: ChargeArgs) => a.key,
      execute: async (a: ChargeArgs) => ({ charged: a.key, n: ++executed }),
    });
    const holder = new Database(path);
    try {
      const run = rt.startRun({ agent: "agent" });
      expect(await run.call(charge, { key: "k0", amount: 1 })).toMatchObject({ ok: true });
      holder.exec("BEGIN EXCLUSIVE");
      const refused = await run.call(charge, { key: "k1", amount: 1 });
      expect(refused).toMatchObject({ ok: false, failure: { kind: "store_unavailable", retryable: true } });
      expect(executed).toBe(1);
      expect(await run.call(balance, {})).toMatchObject({ ok: true }); // reads go on
      holder.exec("COMMIT");
      expect(await run.call(charge, { key: "k1", amount: 1 })).toMatchObject({ ok: true, replayed: false, value: { charged: "k1", n: 2 } });
      expect(await run.call(charge, { key: "k0", amount: 1 })).toMatchObject({ ok: true, replayed: true, value: { n: 1 } });
      expect(executed).toBe(2);
    } finally {
      if (holder.inTransaction) holder.exec("ROLLBACK");
      holder.close();
      await rt.close();
    }
  }, 20_000);

  it("SQLite: the file deleted under an open runtime, another process's runtime makes it anew and runs a call: the old runtime's same call fails closed, one effect", async () => {
    const { spec, world } = backends[0]!.fresh();
    const path = spec.slice("sqlite:".length);
    const w = await openWorld(world);
    const rt = createRuntime({ store: spec, onError: () => {} });
    const charge = chargeTool(w);
    let c: Child | undefined;
    try {
      const run = rt.startRun({ agent: "agent" });
      expect(await run.call(charge, { key: "k0", amount: 1 })).toMatchObject({ ok: true });
      for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f);

      c = await child({ store: spec, world }); // finds no file: a new, empty store
      expect((await c.ask({ op: "charge", args: { key: "k1", amount: 1 } })).outcome).toMatchObject({ ok: true, replayed: false });

      const refused = await run.call(charge, { key: "k1", amount: 1 });
      expect(refused).toMatchObject({ ok: false, failure: { kind: "store_unavailable" } });
      expect(await w.count("k1")).toBe(1);
      expect(await run.call(charge, { key: "k2", amount: 1 })).toMatchObject({ ok: false, failure: { kind: "store_unavailable" } });
      expect(await w.count("k2")).toBe(0);
      c.send({ op: "exit" });
      expect(await c.exited).toBe(0);
    } finally {
      await c?.kill();
      await rt.close();
      await w.close();
    }
  }, 20_000);
});

// ---------------------------------------------------------------- racing processes

describe.each(backends)("4 processes racing on one key through the runtime, $name", (b) => {
  it.skipIf(skip(b))("one effect, the same result for all", async () => {
    const { spec, world } = b.fresh();
    const w = await openWorld(world); // the world table exists before the racers start
    // The store exists before they start too, as it would after the first deployment;
    // concurrent migrations are covered in store-processes.test.ts.
    const first = createRuntime({ store: spec });
    await first.ready();
    await first.close();
    const racers = await Promise.all(Array.from({ length: 4 }, () => child({ store: spec, world })));
    try {
      for (const r of racers) r.send({ op: "charge", args: { key: "race", amount: 120 } });
      const outcomes = (await Promise.all(racers.map((r) => r.next()))).map((l) => l.outcome as Outcome<unknown>);
      expect(await w.count("race")).toBe(1);
      for (const o of outcomes) expect(o.ok).toBe(true);
      expect(outcomes.filter((o) => o.ok && !o.replayed)).toHaveLength(1);
      const values = outcomes.map((o) => (o.ok ? o.value : undefined));
      for (const v of values) expect(v).toEqual(values[0]);
      expect(values[0]).toMatchObject({ charged: "race", amount: 120 });
      for (const r of racers) r.send({ op: "exit" });
      expect(await Promise.all(racers.map((r) => r.exited))).toEqual([0, 0, 0, 0]);
    } finally {
      await Promise.all(racers.map((r) => r.kill()));
      await w.close();
    }
  }, 30_000);
});

// ---------------------------------------------------------------- sweeping expired records

describe("the runtime sweeps expired idempotency records", () => {
  const T0 = Date.UTC(2026, 0, 1);
  const write = defineTool({ name: "write", effect: "write", idempotencyKey: (a: { x: number }) => `k${a.x}`, execute: async (a: { x: number }) => a });

  it("once when the store opens, then every sweepEveryMs, by the runtime's clock", async () => {
    const path = join(dir, `sweep-${n++}.db`);
    // Left by an earlier process: one record long expired, one still live.
    const before = sqliteStore(path);
    const claim = { scope: "write", fingerprint: "f", owner: "o", runId: "r", now: T0, leaseMs: 1_000 };
    await before.idempotency.claim({ ...claim, key: "old", retentionMs: 1_000 });
    await before.idempotency.complete("write", "old", "o", { ok: true, value: 1 }, T0);
    await before.idempotency.claim({ ...claim, key: "live", retentionMs: 60_000 });
    await before.idempotency.complete("write", "live", "o", { ok: true, value: 2 }, T0);
    await before.close();

    const clock = new ManualClock(T0 + 10_000);
    const rt = createRuntime({ store: `sqlite:${path}`, clock, idempotency: { retentionMs: 5_000, sweepEveryMs: 10 } });
    try {
      await rt.ready();
      await vi.waitFor(async () => expect(await rt.store.idempotency.get("write", "old")).toBeUndefined());
      expect(await rt.store.idempotency.get("write", "live")).toBeDefined();

      const run = rt.startRun({ agent: "sweep" });
      expect(await run.call(write, { x: 1 })).toMatchObject({ ok: true });
      // The new record lives retentionMs by the runtime's clock: still there after more sweeps.
      await new Promise((r) => setTimeout(r, 40));
      expect(await rt.store.idempotency.get("write", "k1")).toMatchObject({ state: "completed", expiresAt: T0 + 15_000 });
      await clock.advance(5_000);
      await vi.waitFor(async () => expect(await rt.store.idempotency.get("write", "k1")).toBeUndefined());
      expect(await rt.store.idempotency.get("write", "live")).toBeDefined();
      await clock.advance(60_000);
      await vi.waitFor(async () => expect(await rt.store.idempotency.get("write", "live")).toBeUndefined());
    } finally {
      await rt.close();
    }
  });

  it("errors go to onError; 0 turns it off; close stops it", async () => {
    const sweeps: number[] = [];
    const failing = (fail: boolean): Store => {
      const s = memoryStore();
      const sweep = s.idempotency.sweep.bind(s.idempotency);
      s.idempotency.sweep = async (now) => {
        sweeps.push(now);
        if (fail) throw new Error("sweep failed");
        return sweep(now);
      };
      return s;
    };
    const errors: unknown[] = [];
    const rt = createRuntime({ store: failing(true), onError: (e) => errors.push(e), idempotency: { sweepEveryMs: 5 } });
    await rt.ready();
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2));
    expect(String(errors[0])).toContain("sweep failed");
    await rt.close();
    const after = sweeps.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(sweeps.length).toBe(after);

    sweeps.length = 0;
    const off = createRuntime({ store: failing(false), idempotency: { sweepEveryMs: 0 } });
    await off.ready();
    await new Promise((r) => setTimeout(r, 20));
    expect(sweeps).toEqual([]);
    await off.close();
    expect(() => createRuntime({ idempotency: { sweepEveryMs: -1 } })).toThrow(TypeError);
  });
});
