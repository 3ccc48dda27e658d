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

describe.skipIf(!up)("leases across skewed clocks, on PostgreSQL", () => {
  it("a process 10 minutes ahead does not take over a live claim: it waits, and replays the one effect", async () => {
    const store = spec();
    const idempotency = { leaseMs: 5_000 };
    const here = createRuntime({ store, onError: () => {}, idempotency });
    const ahead = createRuntime({ store, onError: () => {}, idempotency, clock: skewed(MINUTES_10) });
    const { effects, tool } = transfers();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let started!: () => void;
    const executing = new Promise<void>((r) => (started = r));
    try {
      const first = here.startRun({ agent: "here" }).call(tool("here", gate, started), { id: "t-1" });
      await executing;
      const second = ahead.startRun({ agent: "ahead" }).call(tool("ahead"), { id: "t-1" });
      // The claim is live by the database's clock: the process ahead waits for it.
      expect(await settlesWithin(second, 1_000)).toBe(false);
      open();
      expect(await first).toMatchObject({ ok: true, replayed: false, value: { by: "here" } });
      expect(await second).toMatchObject({ ok: true, replayed: true, value: { by: "here" } });
      expect(effects).toEqual(["here"]);
    } finally {
      open();
      await here.close();
      await ahead.close();
    }
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
    const store = spec();
    const idempotency = { leaseMs: 600 }; // renewed every 200 ms
    const behind = createRuntime({ store, onError: () => {}, idempotency, clock: skewed(-MINUTES_10) });
    const here = createRuntime({ store, onError: () => {}, idempotency });
    const { effects, tool } = transfers();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let started!: () => void;
    const executing = new Promise<void>((r) => (started = r));
    try {
      const first = behind.startRun({ agent: "behind" }).call(tool("behind", gate, started), { id: "t-3" });
      await executing;
      const second = here.startRun({ agent: "here" }).call(tool("here"), { id: "t-3" });
      // Well past the first lease: renewed, the claim is still live.
      expect(await settlesWithin(second, 1_500)).toBe(false);
      open();
      expect(await first).toMatchObject({ ok: true, replayed: false, value: { by: "behind" } });
      expect(await second).toMatchObject({ ok: true, replayed: true, value: { by: "behind" } });
      expect(effects).toEqual(["behind"]);
    } finally {
      open();
      await behind.close();
      await here.close();
    }
  }, 20_000);
});
