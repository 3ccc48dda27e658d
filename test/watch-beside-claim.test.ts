/**
 * Before a write, the run reserves its step in the store (which finds a stop made
 * elsewhere) and reads the declared freezes, and sends its idempotency claim at the same
 * time (one round trip on PostgreSQL). The claim
 * is acted on only after the answer: a stop or freeze found there refuses the call unexecuted,
 * gives the claim back if it was taken fresh, keeps a lapsed one it took over, and uses no step.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createRuntime, defineTool, type Runtime } from "../src/index.js";
import { canonicalJson, digest } from "../src/canonical-json.js";
import { memoryStore } from "../src/store/memory.js";
import type { Store } from "../src/store/types.js";

let open: Runtime[] = [];
afterEach(async () => {
  await Promise.all(open.map((r) => r.close()));
  open = [];
});

async function setup() {
  const store: Store = memoryStore();
  const rt = createRuntime({ store });
  open.push(rt);
  await rt.ready();
  let executed = 0;
  const tool = defineTool({
    name: "charge",
    effect: "write",
    idempotencyKey: () => "k1",
    execute: async () => {
      executed++;
      return { id: "ch_1" };
    },
    verify: async () => executed > 0,
  });
  const run = rt.startRun({ agent: "a", runId: "run-1" });
  await run.call(defineTool({ name: "look", effect: "read", execute: async () => 1 }), {});
  return { store, rt, run, tool, executed: () => executed };
}

describe("the stop and freeze check travels beside the claim", () => {
  it("a stop requested elsewhere: refused unexecuted, the fresh claim given back, no step used", async () => {
    const { store, run, tool, executed } = await setup();
    const steps = run.steps;
    expect(await store.runs.requestStop("run-1", "enough", Date.now())).toBe(true);
    const o = await run.call(tool, {});
    expect(o.ok ? "ok" : o.failure.kind).toBe("run_halted");
    expect(executed()).toBe(0);
    expect(run.steps).toBe(steps);
    expect(run.mode).toBe("halted");
    expect(await store.idempotency.get("charge", "k1")).toBeUndefined();
  });

  it("a freeze declared elsewhere: refused as frozen, the claim given back; lifted, the call runs once", async () => {
    const { store, run, tool, executed } = await setup();
    const steps = run.steps;
    await store.freezes.put({ id: "f1", at: Date.now(), reason: "release" });
    const o = await run.call(tool, {});
    expect(o.ok ? "ok" : o.failure.kind).toBe("frozen");
    expect(run.steps).toBe(steps);
    expect(await store.idempotency.get("charge", "k1")).toBeUndefined();
    await store.freezes.lift("f1");
    const again = await run.call(tool, {});
    expect(again.ok).toBe(true);
    expect(executed()).toBe(1);
  });

  it("a lapsed claim taken over is kept, unsettled, when a stop is found: nobody may run it unverified", async () => {
    const { store, run, tool, executed } = await setup();
    const long = Date.now() - 60_000;
    // a claim whose owner died, with the fingerprint the call will have: a takeover, not a conflict
    const fp = digest(canonicalJson({}));
    await store.idempotency.claim({ scope: "charge", key: "k1", fingerprint: fp, owner: "dead", runId: "run-0", now: long, leaseMs: 1, retentionMs: 1e9 });
    await store.runs.requestStop("run-1", "enough", Date.now());
    const o = await run.call(tool, {});
    expect(o.ok ? "ok" : o.failure.kind).toBe("run_halted");
    expect(executed()).toBe(0);
    const held = await store.idempotency.get("charge", "k1");
    expect(held?.state).toBe("unsettled");
    expect(held?.owner).not.toBe("dead");
  });

  it("a store that cannot say: refused (fail closed), unexecuted", async () => {
    const { store, run, tool, executed } = await setup();
    store.runs.commit = async () => {
      throw new Error("db down");
    };
    const o = await run.call(tool, {});
    expect(o.ok ? "ok" : o.failure.kind).not.toBe("ok");
    expect(executed()).toBe(0);
    expect(await store.idempotency.get("charge", "k1")).toBeUndefined();
  });
});
