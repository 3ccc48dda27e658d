import { describe, expect, it, vi } from "vitest";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { defineTool } from "../tool.js";
import { admission } from "./admission.js";

const read = defineTool({ name: "get", effect: "read", execute: async () => 1 });
const write = defineTool({ name: "put", effect: "write", execute: async () => 1 });
const destroy = defineTool({ name: "drop", effect: "destructive", execute: async () => 1 });

function setup(policy = {}) {
  const env = makeEnv();
  const run = makeRun(env, policy);
  const admit = (tool = read) => admission(makeCall(tool, {}, run, env), env);
  return { env, run, admit };
}

describe("admission stage", () => {
  it("lets the escalation tool through in every mode and past every limit but the run's end", () => {
    const escalate = defineTool({ name: "transfer_to_human", effect: "write", escalation: true, execute: async () => 1 });
    for (const mode of ["halted", "handed_off", "read_only"] as const) {
      const { run, admit } = setup({ freeze: true, maxSteps: 1 });
      run.steps = 1;
      run.unverifiedDepth = 10;
      run.mode = mode;
      expect(admit(write)).toBeDefined();
      expect([mode, admit(escalate)]).toEqual([mode, undefined]);
    }
    const { run, admit } = setup();
    run.ended = true;
    expect(admit(escalate)).toMatchObject({ kind: "run_halted" });
  });

  it("admits and reserves a step (and a destructive slot)", () => {
    const { run, admit } = setup();
    expect(admit()).toBeUndefined();
    expect(admit(destroy)).toBeUndefined();
    expect(run.steps).toBe(2);
    expect(run.destructivePending).toBe(1);
  });

  it("refuses every call of a halted or ended run", () => {
    const { run, admit } = setup();
    run.mode = "halted";
    run.reason = "the last 2 calls failed";
    expect(admit()).toMatchObject({ kind: "run_halted", detail: { reason: "the last 2 calls failed" } });
    run.mode = "normal";
    run.ended = true;
    expect(admit()).toMatchObject({ kind: "run_halted" });
  });

  it("refuses past the deadline and past the step limit, with their own kinds", async () => {
    const { env, run, admit } = setup({ deadlineMs: 100, maxSteps: 1 });
    expect(admit()).toBeUndefined();
    expect(admit()).toMatchObject({ kind: "step_limit" });
    run.steps = 0;
    await env.clock.advance(100);
    expect(admit()).toMatchObject({ kind: "deadline_exceeded" });
  });

  it("in read-only mode refuses mutations and admits reads", () => {
    const { run, admit } = setup();
    run.mode = "read_only";
    run.reason = "confidence is 0.6";
    expect(admit(write)).toMatchObject({ kind: "read_only" });
    expect(admit(read)).toBeUndefined();
  });

  it("during a freeze window refuses mutations, saying until when; reads go on", async () => {
    const { env, admit } = setup();
    const now = env.clock.now();
    const { admit: admitFrozen } = (() => {
      const run = makeRun(env, { freeze: [{ from: now + 1_000, to: now + 2_000 }] });
      return { admit: (tool = read) => admission(makeCall(tool, {}, run, env), env) };
    })();
    expect(admitFrozen(write)).toBeUndefined();
    await env.clock.advance(1_000);
    expect(admitFrozen(destroy)).toMatchObject({ kind: "frozen", detail: { until: now + 2_000 } });
    expect(admitFrozen(read)).toBeUndefined();
    await env.clock.advance(1_000);
    expect(admitFrozen(write)).toBeUndefined();
    expect(admit(write)).toBeUndefined();
  });

  it("counts destructive calls in flight against the budget", () => {
    const { admit } = setup({ destructive: { maxPerRun: 2 } });
    expect(admit(destroy)).toBeUndefined();
    expect(admit(destroy)).toBeUndefined();
    expect(admit(destroy)).toMatchObject({ kind: "destructive_budget_exceeded", detail: { limit: 2 } });
    expect(admit(write)).toBeUndefined();
  });

  it("requires a verification gate after maxUnverifiedDepth unverified mutations; reads pass", () => {
    const { run, admit } = setup({ maxUnverifiedDepth: 2 });
    run.unverifiedDepth = 2;
    expect(admit(write)).toMatchObject({ kind: "verification_required" });
    expect(admit(read)).toBeUndefined();
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
