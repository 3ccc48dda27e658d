import { describe, expect, it, vi } from "vitest";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { defineTool } from "../tool.js";
import { admission } from "./admission.js";
import type { RunRecord } from "../store/types.js";

const read = defineTool({ name: "get", effect: "read", execute: async () => 1 });
const write = defineTool({ name: "put", effect: "write", execute: async () => 1 });
const destroy = defineTool({ name: "drop", effect: "destructive", execute: async () => 1 });

function setup(policy = {}) {
  const env = makeEnv();
  const run = makeRun(env, policy);
  /** Admission asked on the run's record with `over` changed. */
  const admit = (tool = read, over: Partial<RunRecord> = {}) => admission(makeCall(tool, {}, run, env), env, { ...run.record, ...over });
  return { env, run, admit };
}

describe("admission stage", () => {
  it("lets the escalation tool through in every mode and past every limit but the run's end", () => {
    const escalate = defineTool({ name: "transfer_to_human", effect: "write", escalation: true, execute: async () => 1 });
    const { admit } = setup({ freeze: true, maxSteps: 1 });
    for (const mode of ["halted", "handed_off", "read_only"] as const) {
      const over = { steps: 1, unverifiedDepth: 10, mode };
      expect(admit(write, over)).toBeDefined();
      expect([mode, admit(escalate, over)]).toEqual([mode, undefined]);
    }
    expect(admit(escalate, { status: "ended" })).toMatchObject({ kind: "run_halted" });
  });

  it("admits, and reserves nothing itself (the run does, on what admission said)", () => {
    const { run, admit } = setup();
    expect(admit()).toBeUndefined();
    expect(admit(destroy)).toBeUndefined();
    expect(run.steps).toBe(0);
  });

  it("refuses every call of a halted, handed-off or ended run", () => {
    const { admit } = setup();
    expect(admit(read, { mode: "halted", reason: "the last 2 calls failed" })).toMatchObject({ kind: "run_halted", detail: { reason: "the last 2 calls failed" } });
    expect(admit(read, { mode: "handed_off", reason: "low confidence" })).toMatchObject({ kind: "handed_off" });
    expect(admit(read, { status: "ended" })).toMatchObject({ kind: "run_halted", detail: { reason: "the run has ended" } });
  });

  it("refuses past the deadline and past the step limit, with their own kinds", async () => {
    const { env, admit } = setup({ deadlineMs: 100, maxSteps: 1 });
    expect(admit()).toBeUndefined();
    expect(admit(read, { steps: 1 })).toMatchObject({ kind: "step_limit" });
    await env.clock.advance(100);
    expect(admit()).toMatchObject({ kind: "deadline_exceeded" });
  });

  it("in read-only mode refuses mutations and admits reads", () => {
    const { admit } = setup();
    const readOnly = { mode: "read_only", reason: "confidence is 0.6" } as const;
    expect(admit(write, readOnly)).toMatchObject({ kind: "read_only" });
    expect(admit(read, readOnly)).toBeUndefined();
  });

  it("during a freeze window refuses mutations, saying until when; reads go on", async () => {
    const { env, admit } = setup();
    const now = env.clock.now();
    const { admit: admitFrozen } = (() => {
      const run = makeRun(env, { freeze: [{ from: now + 1_000, to: now + 2_000 }] });
      return { admit: (tool = read) => admission(makeCall(tool, {}, run, env), env, run.record) };
    })();
    expect(admitFrozen(write)).toBeUndefined();
    await env.clock.advance(1_000);
    expect(admitFrozen(destroy)).toMatchObject({ kind: "frozen", detail: { until: now + 2_000 } });
    expect(admitFrozen(read)).toBeUndefined();
    await env.clock.advance(1_000);
    expect(admitFrozen(write)).toBeUndefined();
    expect(admit(write)).toBeUndefined();
  });

  it("counts destructive calls done and in flight against the budget", () => {
    const { admit } = setup({ destructive: { maxPerRun: 2 } });
    const slot = { callId: "c", until: Infinity };
    expect(admit(destroy, { destructive: { used: 1, inFlight: [] } })).toBeUndefined();
    expect(admit(destroy, { destructive: { used: 1, inFlight: [slot] } })).toMatchObject({ kind: "destructive_budget_exceeded", detail: { limit: 2 } });
    expect(admit(destroy, { destructive: { used: 0, inFlight: [slot, slot] } })).toMatchObject({ kind: "destructive_budget_exceeded" });
    expect(admit(write, { destructive: { used: 2, inFlight: [] } })).toBeUndefined();
  });

  it("requires a verification gate after maxUnverifiedDepth unverified mutations; reads pass", () => {
    const { admit } = setup({ maxUnverifiedDepth: 2 });
    expect(admit(write, { unverifiedDepth: 1 })).toBeUndefined();
    expect(admit(write, { unverifiedDepth: 2 })).toMatchObject({ kind: "verification_required" });
    expect(admit(read, { unverifiedDepth: 2 })).toBeUndefined();
  });

  it("refuses a tool whose breaker is open, before anything else happens", () => {
    const { env, admit, run } = setup();
    const breaker = env.health.for(read).breaker!;
    for (let i = 0; i < 5; i++) breaker.onFailure(env.clock.now(), "503");
    const steps = run.steps;
    expect(admit(read)).toMatchObject({ kind: "breaker_open" });
    expect(run.steps).toBe(steps);
  });

  it("once the breaker may probe, admits and leaves the probe for execute", async () => {
    const { env, admit } = setup();
    const breaker = env.health.for(read).breaker!;
    for (let i = 0; i < 5; i++) breaker.onFailure(env.clock.now(), "503");
    await env.clock.advance(30_000);
    const check = vi.spyOn(breaker, "check");
    expect(admit(read)).toBeUndefined();
    // Admission only looked (peek): it took no probe, so the one probe is still execute's.
    expect(check).not.toHaveBeenCalled();
    expect(breaker.check(env.clock.now())).toEqual({ allowed: true, probe: true });
  });
});
