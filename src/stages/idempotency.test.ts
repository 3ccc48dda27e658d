import { describe, expect, it, vi } from "vitest";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { defineTool } from "../tool.js";
import type { InFlight } from "../call.js";
import { idempotency } from "./idempotency.js";

const write = (spec: Partial<Parameters<typeof defineTool>[0]> = {}) =>
  defineTool({ name: "transfer", effect: "write", execute: async () => "done", ...spec });

describe("idempotency stage", () => {
  it("lets read tools through without a key", async () => {
    const env = makeEnv();
    const call = makeCall(defineTool({ name: "get", effect: "read", execute: async () => 1 }), { a: 1 }, makeRun(env), env);
    expect(await idempotency(call, env, new Map())).toBeUndefined();
    expect(call.key).toBeUndefined();
  });

  it("derives one key for one intent, whatever the key order, and another for another run", async () => {
    const tool = write();
    const key = async (args: unknown, runId: string) => {
      const env = makeEnv(); // a store of its own: only the key is looked at
      const call = makeCall(tool, args, makeRun(env, {}, runId), env);
      await idempotency(call, env, new Map());
      return call;
    };
    const a = await key({ to: "x", cents: 1 }, "run-a");
    const b = await key({ cents: 1, to: "x" }, "run-a");
    const c = await key({ to: "x", cents: 1 }, "run-b");
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
    expect(a.key).toContain("run-a:transfer:");
  });

  it("refuses a key function that throws or returns nonsense", async () => {
    const env = makeEnv();
    const throwing = makeCall(write({ idempotencyKey: () => { throw new Error("no invoice"); } }), {}, makeRun(env), env);
    expect(await idempotency(throwing, env, new Map())).toMatchObject({ kind: "invalid_input" });
    const empty = makeCall(write({ idempotencyKey: () => "" }), {}, makeRun(env), env);
    expect(await idempotency(empty, env, new Map())).toMatchObject({ kind: "invalid_input" });
  });

  it("fails closed when the store cannot claim", async () => {
    const env = makeEnv();
    env.store.idempotency.claim = async () => {
      throw new Error("SQLITE_BUSY: database is locked");
    };
    const call = makeCall(write(), {}, makeRun(env), env);
    const v = await idempotency(call, env, new Map());
    expect(v).toMatchObject({ kind: "store_unavailable", retryable: true });
    expect(v && "message" in v && v.message).toContain("database is locked");
  });

  it("a duplicate in this process joins the call in flight", async () => {
    const env = makeEnv();
    const inFlight: InFlight = new Map();
    const run = makeRun(env);
    const first = makeCall(write(), { n: 1 }, run, env);
    const second = makeCall(write(), { n: 1 }, run, env);
    expect(await idempotency(first, env, inFlight)).toBeUndefined();
    const joined = idempotency(second, env, inFlight);
    first.settleDuplicates!({ ok: true, value: "done", callId: first.callId, replayed: false });
    expect(await joined).toEqual({ outcome: { ok: true, value: "done", callId: second.callId, replayed: true } });
    expect(inFlight.size).toBe(0);
  });

  it("a duplicate waiting on a call whose claim fails gets that failure, stamped with its stage", async () => {
    const env = makeEnv();
    let refuse!: (e: Error) => void;
    env.store.idempotency.claim = () => new Promise((_, reject) => (refuse = reject));
    const inFlight: InFlight = new Map();
    const run = makeRun(env);
    const first = idempotency(makeCall(write(), { n: 1 }, run, env), env, inFlight);
    const joined = idempotency(makeCall(write(), { n: 1 }, run, env), env, inFlight);
    refuse(new Error("SQLITE_BUSY: database is locked"));
    expect(await first).toMatchObject({ kind: "store_unavailable", stage: "idempotency" });
    expect(await joined).toMatchObject({ outcome: { ok: false, replayed: true, failure: { kind: "store_unavailable", stage: "idempotency" } } });
    expect(inFlight.size).toBe(0);
  });

  it("a call refused at its claim settles its duplicates once: its later settlement leaves a newer call's entry under the key", async () => {
    const env = makeEnv();
    const claim = env.store.idempotency.claim.bind(env.store.idempotency);
    let calls = 0;
    env.store.idempotency.claim = (r) => (++calls === 1 ? Promise.reject(new Error("SQLITE_BUSY: database is locked")) : claim(r));
    const inFlight: InFlight = new Map();
    const run = makeRun(env);
    const refused = makeCall(write(), { n: 1 }, run, env);
    expect(await idempotency(refused, env, inFlight)).toMatchObject({ kind: "store_unavailable" });
    const next = makeCall(write(), { n: 1 }, run, env);
    expect(await idempotency(next, env, inFlight)).toBeUndefined();
    // The refused call's settlement (settle-call.ts) comes after the newer call registered.
    refused.settleDuplicates?.({ ok: false, failure: { kind: "store_unavailable", message: "", retryable: true }, callId: refused.callId });
    const joined = idempotency(makeCall(write(), { n: 1 }, run, env), env, inFlight);
    next.settleDuplicates!({ ok: true, value: "done", callId: next.callId, replayed: false });
    expect(await joined).toMatchObject({ outcome: { ok: true, value: "done", replayed: true } });
    expect(calls).toBe(2);
  });

  describe("a claim whose owner died (lease lapsed)", () => {
    async function crashedClaim(env: ReturnType<typeof makeEnv>, tool: ReturnType<typeof write>) {
      const dead = makeCall(tool, { to: "x" }, makeRun(env), env);
      expect(await idempotency(dead, env, new Map())).toBeUndefined();
      // the process dies here: no complete, no release, no more renewals; time passes beyond the lease
      dead.lease!.stop();
      await env.clock.advance(60 * 60 * 1000);
      return makeCall(tool, { to: "x" }, makeRun(env), env);
    }

    it("without a verify probe, fails as write_unverified and keeps the claim, so nothing runs twice", async () => {
      const env = makeEnv();
      const tool = write();
      const next = await crashedClaim(env, tool);
      const v = await idempotency(next, env, new Map());
      expect(v).toMatchObject({ kind: "write_unverified", detail: { unsettled: true } });
      // and again, for the caller after it (this one never records: its lease just lapses)
      next.lease!.stop();
      await env.clock.advance(60 * 60 * 1000);
      const later = makeCall(tool, { to: "x" }, makeRun(env), env);
      expect(await idempotency(later, env, new Map())).toMatchObject({ kind: "write_unverified" });
    });

    it("when the probe sees the effect, completes the key and replays", async () => {
      const env = makeEnv();
      const verify = vi.fn(async () => true);
      const tool = write({ verify });
      const next = await crashedClaim(env, tool);
      const v = await idempotency(next, env, new Map());
      expect(v).toMatchObject({ outcome: { ok: true, replayed: true, recovered: true } });
      expect(verify).toHaveBeenCalledWith({ to: "x" }, undefined, expect.anything());
      const rec = await env.store.idempotency.get("transfer", next.key!);
      expect(rec?.state).toBe("completed");
    });

    it("when the probe does not see the effect, the call runs", async () => {
      const env = makeEnv();
      const tool = write({ verify: async () => "no transfer to x found" });
      const next = await crashedClaim(env, tool);
      expect(await idempotency(next, env, new Map())).toBeUndefined();
    });

    it("when the probe itself fails, nothing runs", async () => {
      const env = makeEnv();
      const tool = write({ verify: async () => { throw new Error("ledger unreachable"); } });
      const next = await crashedClaim(env, tool);
      const v = await idempotency(next, env, new Map());
      expect(v).toMatchObject({ kind: "write_unverified" });
      expect(v && "message" in v && v.message).toContain("ledger unreachable");
    });
  });
});
