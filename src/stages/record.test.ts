import { describe, expect, it } from "vitest";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { failures, type Outcome } from "../failure.js";
import { defineTool } from "../tool.js";
import { record } from "./record.js";

const write = defineTool({ name: "pay", effect: "write", execute: async () => 1, compensate: async () => {} });
const ok = (callId: string, value: unknown = "done"): Outcome<unknown> => ({ ok: true, value, callId, replayed: false });
const failed = (callId: string) => ({ ok: false as const, failure: failures.toolError("pay", "503", 1, true), callId });

async function claimed(env: ReturnType<typeof makeEnv>, call: ReturnType<typeof makeCall>, key: string) {
  call.key = key;
  call.holdsClaim = true;
  await env.store.idempotency.claim({ scope: call.tool.name, key, fingerprint: "f", owner: call.callId, runId: call.run.runId, now: env.clock.now(), leaseMs: 60_000, retentionMs: 60_000 });
}

describe("record stage", () => {
  it("completes the key of a success, with its value for replays", async () => {
    const env = makeEnv();
    const call = makeCall(write, { a: 1 }, makeRun(env), env);
    await claimed(env, call, "k1");
    await record(call, ok(call.callId, { chargeId: "ch_1" }), env, () => 1);
    const rec = await env.store.idempotency.get("pay", "k1");
    expect(rec).toMatchObject({ state: "completed", outcome: { ok: true, value: { chargeId: "ch_1" } } });
  });

  it("releases the key only when nothing ran, or the tool said it failed: the intent may be tried again", async () => {
    const env = makeEnv();
    const refused = makeCall(write, { a: 1 }, makeRun(env), env);
    await claimed(env, refused, "k2");
    await record(refused, failed(refused.callId), env, () => 1);
    expect(await env.store.idempotency.get("pay", "k2")).toBeUndefined();
    const declined = makeCall(write, { a: 1 }, makeRun(env), env);
    await claimed(env, declined, "k2b");
    declined.executed = true; // threw a ToolError: no output, not ambiguous
    await record(declined, failed(declined.callId), env, () => 1);
    expect(await env.store.idempotency.get("pay", "k2b")).toBeUndefined();
  });

  it("after the tool ran, keeps the claim: unsettled when the effect is unknown, completed when a later check refused it", async () => {
    const env = makeEnv();
    const settled = async (key: string, prepare: (c: ReturnType<typeof makeCall>) => void, outcome = failed) => {
      const call = makeCall(write, { key }, makeRun(env), env);
      await claimed(env, call, key);
      call.executed = true;
      prepare(call);
      await record(call, outcome(call.callId), env, () => 1);
      return env.store.idempotency.get("pay", key);
    };
    // A lapsed claim taken over and not settled, an attempt that may have landed: unsettled.
    expect(await settled("lapsed", (c) => (c.holdsUnsettledClaim = true))).toMatchObject({ state: "unsettled", outcome: { ok: false } });
    expect(await settled("timeout", (c) => (c.ambiguous = true))).toMatchObject({ state: "unsettled" });
    // The tool returned, the read-back disagrees: unsettled, and marked as reported done (a probe's "not seen" may lag).
    const unverified = (id: string) => ({ ok: false as const, failure: failures.writeUnverified("pay", "not found"), callId: id });
    expect(await settled("lagging", (c) => (c.output = { id: 1 }), unverified)).toMatchObject({ state: "unsettled", outcome: { returned: true } });
    // The tool returned, its output was refused: the effect took place; completed with the failure.
    const invalid = (id: string) => ({ ok: false as const, failure: failures.invalidOutput("pay", ["bad"]), callId: id });
    expect(await settled("invalid", (c) => (c.output = { id: 2 }), invalid)).toMatchObject({ state: "completed", outcome: { ok: false, failure: { kind: "invalid_output" } } });
  });

  it("leaves alone a key it does not hold (a replay, a conflict, another's unsettled claim)", async () => {
    const env = makeEnv();
    await env.store.idempotency.claim({ scope: "pay", key: "theirs", fingerprint: "f", owner: "other", runId: "r", now: 0, leaseMs: 60_000, retentionMs: 60_000 });
    const call = makeCall(write, {}, makeRun(env), env);
    call.key = "theirs";
    await record(call, failed(call.callId), env, () => 1);
    expect(await env.store.idempotency.get("pay", "theirs")).toMatchObject({ state: "in_flight", owner: "other" });
  });

  it("puts an executed mutation in the ledger, even when a later stage rejected it", async () => {
    const env = makeEnv();
    const run = makeRun(env);
    const call = makeCall(write, { to: "x" }, run, env);
    call.executed = true;
    call.output = { id: 7 };
    await record(call, { ok: false, failure: failures.writeUnverified("pay", "not found"), callId: call.callId }, env, () => 1);
    const [m] = await env.store.mutations.list(run.runId);
    expect(m).toMatchObject({ id: call.callId, tool: "pay", args: { to: "x" }, output: { id: 7 }, compensable: true, status: "done", seq: 1 });
  });

  it("leaves reads and mutations that never executed out of the ledger", async () => {
    const env = makeEnv();
    const run = makeRun(env);
    await record(makeCall(defineTool({ name: "get", effect: "read", execute: async () => 1 }), {}, run, env), ok("c1"), env, () => 1);
    const refused = makeCall(write, {}, run, env);
    await record(refused, failed(refused.callId), env, () => 2);
    expect(await env.store.mutations.list(run.runId)).toEqual([]);
  });

  it("reports a record the store could not write, and the outcome stands", async () => {
    const env = makeEnv();
    env.store.idempotency.complete = async () => {
      throw new Error("disk full");
    };
    const call = makeCall(write, {}, makeRun(env), env);
    call.key = "k4";
    call.holdsClaim = true;
    await record(call, ok(call.callId), env, () => 1);
    expect(env.errors).toHaveLength(1);
    expect(String(env.errors[0])).toContain("disk full");
  });
});
