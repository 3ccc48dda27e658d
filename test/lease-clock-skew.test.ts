/**
 * Processes whose clocks disagree, on one PostgreSQL schema: leases are judged by the
 * database's clock, so skew is harmless. A process 10 minutes ahead does not take over a
 * live claim (one effect); a process 10 minutes behind takes over a dead owner's claim once
 * its lease has really lapsed, not 10 minutes late; a holder 10 minutes behind keeps its
 * claim by renewing it. (SQLite is one host, one clock; memory is one process.)
 */
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, systemClock, type Clock, type Outcome } from "../src/index.js";
import { canonicalJson, digest } from "../src/canonical-json.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const { prefix, up } = await scratchStores("clock-skew");

let n = 0;
const spec = () => `${PG_URL}?schema=${prefix}_${n++}`;
const MINUTES_10 = 10 * 60_000;
/** This machine's clock, off by `ms`: timers run as usual, `now` is wrong. */
const skewed = (ms: number): Clock => ({ ...systemClock, now: () => Date.now() + ms });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Args = { id: string };

/**
 * A transfer whose effect lands when its gate opens; its probe sees a landed one. Each
 * runtime has its own copy of the tool (same name, same key): `effects` says who ran it.
 */
function transfers() {
  const effects: string[] = [];
  const tool = (by: string, gate?: Promise<void>, started?: () => void) =>
    defineTool({
      name: "transfer",
      effect: "write",
      retry: false,
      idempotencyKey: (a: Args) => a.id,
      execute: async (_a: Args) => {
        started?.();
        await gate;
        effects.push(by);
        return { by };
      },
      verify: async () => effects.length > 0,
    });
  return { effects, tool };
}

/** Whether `p` settles within `ms`. */
const settlesWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), sleep(ms).then(() => false)]);

/**
 * `holder` calls the tool and holds the key while its effect runs; `waiter`, another
 * runtime on the store, calls it too and must still be waiting after `waitsMs`; once the
 * holder finishes, the waiter replays its outcome: one effect.
 */
async function oneEffect(o: { holder: Side; waiter: Side; key: string; waitsMs: number }) {
  const store = spec();
  const runtime = (side: Side) => createRuntime({ store, onError: () => {}, idempotency: side.idempotency, ...(side.skewMs ? { clock: skewed(side.skewMs) } : {}) });
  const holding = runtime(o.holder);
  const waiting = runtime(o.waiter);
  const { effects, tool } = transfers();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let started!: () => void;
  const executing = new Promise<void>((r) => (started = r));
  try {
    const first = holding.startRun({ agent: o.holder.name }).call(tool(o.holder.name, gate, started), { id: o.key });
    await executing;
    const second = waiting.startRun({ agent: o.waiter.name }).call(tool(o.waiter.name), { id: o.key });
    expect(await settlesWithin(second, o.waitsMs)).toBe(false);
    open();
    expect(await first).toMatchObject({ ok: true, replayed: false, value: { by: o.holder.name } });
    expect(await second).toMatchObject({ ok: true, replayed: true, value: { by: o.holder.name } });
    expect(effects).toEqual([o.holder.name]);
  } finally {
    open();
    await holding.close();
    await waiting.close();
  }
}

interface Side {
  name: string;
  idempotency: { leaseMs: number };
  skewMs?: number;
}

describe.skipIf(!up)("leases across skewed clocks, on PostgreSQL", () => {
  it("a process 10 minutes ahead does not take over a live claim: it waits, and replays the one effect", async () => {
    const idempotency = { leaseMs: 5_000 };
    // The claim is live by the database's clock: the process ahead waits for it.
    await oneEffect({ holder: { name: "here", idempotency }, waiter: { name: "ahead", idempotency, skewMs: MINUTES_10 }, key: "t-1", waitsMs: 1_000 });
  }, 20_000);

  it("a process 10 minutes behind takes over a dead owner's claim once its lease has lapsed by the database's clock", async () => {
    const store = spec();
    const behind = createRuntime({ store, onError: () => {}, clock: skewed(-MINUTES_10) });
    const { effects, tool } = transfers();
    try {
      await behind.ready();
      // A process with a true clock claimed the key, then died: nobody renews the claim.
      const since = Date.now();
      const fingerprint = digest(canonicalJson({ id: "t-2" }));
      const dead = { scope: "transfer", key: "t-2", fingerprint, owner: "dead-call", runId: "r0", now: Date.now(), leaseMs: 1_000, retentionMs: 3_600_000 };
      expect(await behind.store.idempotency.claim(dead)).toMatchObject({ status: "claimed" });
      // Its deadline (by its own clock, which runs at the usual rate) ends the wait if the lease seems 10 minutes longer.
      const outcome: Outcome<unknown> = await behind.startRun({ agent: "behind", policy: { deadlineMs: 8_000 } }).call(tool("behind"), { id: "t-2" });
      const waited = Date.now() - since;
      // Its probe sees no effect: the call runs, once, after the lease and not before.
      expect(outcome).toMatchObject({ ok: true, replayed: false, value: { by: "behind" } });
      expect(effects).toEqual(["behind"]);
      expect(waited).toBeGreaterThanOrEqual(990);
      expect(waited).toBeLessThan(5_000);
    } finally {
      await behind.close();
    }
  }, 20_000);

  it("a holder 10 minutes behind keeps its claim by renewing it: a process with a true clock waits past the first lease", async () => {
    const idempotency = { leaseMs: 600 }; // renewed every 200 ms
    // Well past the first lease: renewed, the claim is still live.
    await oneEffect({ holder: { name: "behind", idempotency, skewMs: -MINUTES_10 }, waiter: { name: "here", idempotency }, key: "t-3", waitsMs: 1_500 });
  }, 20_000);
});
