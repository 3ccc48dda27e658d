import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { defineTool, type Outcome } from "../index.js";
import { kindOf, manualRuntime } from "../../test/fixtures/runtime.js";

const failureOf = (o: Outcome<unknown>) => {
  if (o.ok) throw new Error("expected a failure");
  return o.failure;
};

const getReservation = defineTool({
  name: "get_reservation",
  effect: "read",
  input: z.object({ id: z.string() }),
  execute: async ({ id }) => ({ id, cabin: id === "BASIC1" ? "basic_economy" : "economy" }),
  facts: (r) => [{ key: `reservation:${r.id}:cabin`, value: r.cabin, source: "reservations" }],
});

function changeFlight(rules: Parameters<typeof defineTool<{ id: string; flight: string }>>[0]["rules"]) {
  const execute = vi.fn(async (a: { id: string; flight: string }) => ({ changed: a.id }));
  const tool = defineTool({ name: "change_flight", effect: "write", input: z.object({ id: z.string().trim(), flight: z.string() }), rules, execute });
  return { tool, execute };
}

function basicEconomyCannotChange(a: { id: string }, ctx: { require(key: string, how?: string): { value: unknown } }) {
  const cabin = ctx.require(`reservation:${a.id}:cabin`, `read the reservation first (get_reservation with id ${a.id})`).value;
  return cabin === "basic_economy" ? "basic economy reservations cannot be changed" : undefined;
}

describe("rules stage", () => {
  it("a reason refuses the call as policy_violation from the rules stage: nothing runs, no key is claimed, nobody is asked", async () => {
    const { rt, store } = manualRuntime();
    const { tool, execute } = changeFlight([basicEconomyCannotChange]);
    const claim = vi.spyOn(store.idempotency, "claim");
    const run = rt.startRun({ agent: "airline" });
    await run.call(getReservation, { id: "BASIC1" });
    const f = failureOf(await run.call(tool, { id: " BASIC1 ", flight: "HAT002" }));
    expect(f).toMatchObject({ kind: "policy_violation", stage: "rules", retryable: false, detail: { rule: "basicEconomyCannotChange" } });
    expect(f.message).toContain('breaks the rule "basicEconomyCannotChange": basic economy reservations cannot be changed');
    expect(f.message).toContain("will not help");
    expect(execute).not.toHaveBeenCalled();
    expect(claim).not.toHaveBeenCalled();
    expect(await rt.approvals.list()).toHaveLength(0);
  });

  it("rules see the parsed arguments and the run's reconciled facts: an allowed call runs", async () => {
    const { rt } = manualRuntime();
    const seen = vi.fn();
    const { tool, execute } = changeFlight([
      (a, ctx) => {
        seen(a.id, ctx.fact(`reservation:${a.id}:cabin`)?.value, ctx.runId, ctx.agent, ctx.tool, ctx.calls.map((c) => c.tool));
        return undefined;
      },
    ]);
    const run = rt.startRun({ agent: "airline" });
    await run.call(getReservation, { id: "ECO1" });
    expect(kindOf(await run.call(tool, { id: " ECO1", flight: "HAT002" }))).toBe("ok");
    expect(seen).toHaveBeenCalledWith("ECO1", "economy", run.id, "airline", { name: "change_flight", effect: "write" }, ["get_reservation"]);
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("a rule that needs a fact the run has not read asks for it, and the same call goes through once it is read", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = changeFlight([basicEconomyCannotChange]);
    const run = rt.startRun({ agent: "airline" });
    const f = failureOf(await run.call(tool, { id: "ECO1", flight: "HAT002" }));
    expect(f).toMatchObject({ kind: "policy_violation", stage: "rules", retryable: true, detail: { fact: "reservation:ECO1:cabin", missing: true } });
    expect(f.message).toContain("Read the reservation first (get_reservation with id ECO1), then call change_flight again.");
    await run.call(getReservation, { id: "ECO1" });
    expect(kindOf(await run.call(tool, { id: "ECO1", flight: "HAT002" }))).toBe("ok");
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("a fact whose sources disagree cannot be relied on: the call is refused and the model told a person must confirm", async () => {
    const { rt } = manualRuntime({ confidence: { penalties: { contradiction: 0 } } });
    const mirror = defineTool({ name: "mirror", effect: "read", execute: async () => "basic_economy", facts: (v) => [{ key: "reservation:X:cabin", value: v, source: "mirror" }] });
    const { tool, execute } = changeFlight([basicEconomyCannotChange]);
    const run = rt.startRun({ agent: "airline", policy: { maxConsecutiveFailures: 5 } });
    await run.call(getReservation, { id: "X" });
    expect(kindOf(await run.call(mirror, {}))).toBe("contradiction");
    const f = failureOf(await run.call(tool, { id: "X", flight: "F" }));
    expect(f).toMatchObject({ kind: "policy_violation", retryable: false, detail: { contested: ["reservations", "mirror"] } });
    expect(execute).not.toHaveBeenCalled();
  });

  it("a rule that throws, hangs or answers anything but a reason, nothing or { approval } fails closed, saying which rule", async () => {
    const { rt, clock } = manualRuntime({ maxConsecutiveFailures: 100, confidence: { penalties: { failure: 0 } } });
    const run = rt.startRun({ agent: "airline" });
    const answers: [string, unknown][] = [["null", null], ["true", true], ["false", false], ["42", 42], ['""', ""], ['{"approval":""}', { approval: "" }], ['{"deny":true}', { deny: true }]];
    for (const [shown, answer] of answers) {
      const { tool, execute } = changeFlight([{ name: "odd", rule: () => answer as string }]);
      const f = failureOf(await run.call(tool, { id: "A", flight: "F" }));
      expect(f).toMatchObject({ kind: "policy_violation", stage: "rules", retryable: false, detail: { rule: "odd", ruleFailed: true } });
      expect(f.message).toContain(`it returned ${shown}, not undefined`);
      expect(execute).not.toHaveBeenCalled();
    }
    const throwing = changeFlight([{ name: "buggy", rule: () => { throw new Error("lookup table missing"); } }]);
    expect(failureOf(await run.call(throwing.tool, { id: "A", flight: "F" })).message).toContain('the rule "buggy" could not be checked (it threw: lookup table missing)');
    const rejecting = changeFlight([{ name: "async-buggy", rule: async () => { throw new Error("db down"); } }]);
    expect(failureOf(await run.call(rejecting.tool, { id: "A", flight: "F" })).detail).toMatchObject({ rule: "async-buggy", error: "it threw: db down" });
    const hanging = changeFlight([{ name: "slow", rule: () => new Promise<undefined>(() => {}) }]);
    const pending = run.call(hanging.tool, { id: "A", flight: "F" });
    await clock.advance(1_000);
    expect(failureOf(await pending).message).toContain("did not answer within 1000ms (policy ruleTimeoutMs)");
    expect(hanging.execute).not.toHaveBeenCalled();
    // The limit is the policy's.
    const patient = rt.startRun({ agent: "airline", policy: { ruleTimeoutMs: 5_000 } });
    const slow = changeFlight([{ name: "slow", rule: async () => void (await clock.sleep(2_000)) }]);
    let done: Outcome<unknown> | undefined;
    void patient.call(slow.tool, { id: "A", flight: "F" }).then((o) => (done = o));
    for (let t = 0; t < 3_000 && !done; t += 250) await clock.advance(250);
    expect(kindOf(done!)).toBe("ok");
    expect(() => rt.startRun({ agent: "airline", policy: { ruleTimeoutMs: 0 } })).toThrow(/ruleTimeoutMs/);
  });

  it("an async rule is awaited", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = changeFlight([async (a) => (a.flight === "HAT999" ? "that flight is sold out" : undefined)]);
    const run = rt.startRun({ agent: "airline" });
    expect(failureOf(await run.call(tool, { id: "A", flight: "HAT999" })).message).toContain("that flight is sold out");
    expect(kindOf(await run.call(tool, { id: "A", flight: "HAT001" }))).toBe("ok");
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("{ approval: reason } asks a person, who sees the reason; approved, the same call runs", async () => {
    const { rt } = manualRuntime();
    const { tool, execute } = changeFlight([(a) => (a.flight.startsWith("INTL") ? { approval: "international changes need a supervisor" } : undefined)]);
    const run = rt.startRun({ agent: "airline" });
    const f = failureOf(await run.call(tool, { id: "A", flight: "INTL7" }));
    expect(f).toMatchObject({ kind: "approval_required", stage: "approval", detail: { why: "international changes need a supervisor" } });
    expect(f.message).toContain("(international changes need a supervisor)");
    const [req] = await rt.approvals.list();
    expect(req).toMatchObject({ tool: "change_flight", why: "international changes need a supervisor", status: "pending" });
    await rt.approvals.approve(req!.id, { by: "supervisor" });
    expect(kindOf(await run.call(tool, { id: "A", flight: "INTL7" }))).toBe("ok");
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it("a person's approval asked by a rule passes the verification gate; a call no one is asked about is held to it", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 1 });
    const { tool, execute } = changeFlight([(a) => (a.flight.startsWith("INTL") ? { approval: "international changes need a supervisor" } : undefined)]);
    const run = rt.startRun({ agent: "airline" });
    expect(kindOf(await run.call(tool, { id: "A", flight: "HAT001" }))).toBe("ok");
    expect(run.unverifiedDepth).toBe(1);
    // At the gate: a call no one is asked about is refused, by the approval stage.
    expect(failureOf(await run.call(tool, { id: "B", flight: "HAT002" }))).toMatchObject({ kind: "verification_required", stage: "approval" });
    // One a rule asks a person about: approved, it is the gate, and runs.
    expect(kindOf(await run.call(tool, { id: "C", flight: "INTL7" }))).toBe("approval_required");
    const [req] = await rt.approvals.list();
    await rt.approvals.approve(req!.id, { by: "supervisor" });
    expect(kindOf(await run.call(tool, { id: "C", flight: "INTL7" }))).toBe("ok");
    expect(execute).toHaveBeenCalledTimes(2);
    expect(run.unverifiedDepth).toBe(1);
  });

  it("a later rule's refusal wins over an earlier rule's request for approval", async () => {
    const { rt } = manualRuntime();
    const { tool } = changeFlight([() => ({ approval: "large change" }), { name: "no-weekend", rule: () => "no changes at weekends" }]);
    const run = rt.startRun({ agent: "airline" });
    expect(failureOf(await run.call(tool, { id: "A", flight: "F" }))).toMatchObject({ kind: "policy_violation", detail: { rule: "no-weekend" } });
    expect(await rt.approvals.list()).toHaveLength(0);
  });

  it("policy rules apply across tools, by tool name or effect; a run's rules add to the runtime's", async () => {
    const noDestructive = { name: "no-deletes-in-support", effects: ["destructive" as const], rule: () => "support agents may not delete" };
    const { rt } = manualRuntime({ rules: [noDestructive] });
    const del = defineTool({ name: "delete_user", effect: "destructive", execute: vi.fn(async () => 1) });
    const read = defineTool({ name: "get_user", effect: "read", execute: async () => ({ name: "ann" }) });
    const refund = defineTool({ name: "refund", effect: "write", execute: async () => "ok" });
    const run = rt.startRun({
      agent: "support",
      policy: { maxConsecutiveFailures: 10, rules: [{ tools: ["refund"], rule: (a: { cents: number }) => (a.cents > 10_000 ? "refunds over 100.00 are not allowed" : undefined) }] },
    });
    expect(failureOf(await run.call(del, {}))).toMatchObject({ kind: "policy_violation", detail: { rule: "no-deletes-in-support" } });
    expect(kindOf(await run.call(read, {}))).toBe("ok");
    expect(failureOf(await run.call(refund, { cents: 20_000 }))).toMatchObject({ kind: "policy_violation", detail: { rule: "policy rule 2", reason: "refunds over 100.00 are not allowed" } });
    expect(kindOf(await run.call(refund, { cents: 500 }))).toBe("ok");
    // Another run of the same runtime has only the runtime's rules.
    expect(kindOf(await rt.startRun({ agent: "support" }).call(refund, { cents: 20_000 }))).toBe("ok");
  });

  it("an insisting agent is halted by the chain breaker: violations count", async () => {
    const { rt } = manualRuntime();
    const { tool } = changeFlight([() => "never"]);
    const run = rt.startRun({ agent: "airline" });
    await run.call(tool, { id: "A", flight: "F" });
    await run.call(tool, { id: "A", flight: "F" });
    expect(run.mode).toBe("halted");
  });

  it("defineTool and the policy refuse malformed rules", () => {
    expect(() => changeFlight(["no" as never])).toThrow(/rules\[0\] must be a function/);
    expect(() => changeFlight({} as never)).toThrow(/rules must be a list/);
    expect(() => manualRuntime({ rules: [{ tools: "refund" } as never] })).toThrow(/rules\[0\] must be a function/);
    expect(() => manualRuntime({ rules: [{ rule: () => undefined, effects: "write" } as never] })).toThrow(/rules\[0\]\.effects must be a list/);
  });
});
