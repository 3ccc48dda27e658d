/** Confidence, graceful degradation, decision gates and handoff, through the public API. */
import { describe, expect, it, vi } from "vitest";
import { createRuntime, defineTool, ManualClock, memoryStore, PolicyError, type Verifier } from "bulwark";

function runtime(options: Parameters<typeof createRuntime>[0] = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const rt = createRuntime({ clock, random: () => 0.5, onError: (e) => { throw e; }, ...options });
  return { rt, clock };
}
const write = (name = "update") => defineTool({ name, effect: "write", retry: false, execute: vi.fn(async () => ({ done: true })) });
const read = defineTool({ name: "lookup", effect: "read", execute: async () => ({ v: 1 }), facts: () => [{ key: "k", value: 1, source: "db" }] });
const says = (name: string, verdict: "agree" | "disagree" | "abstain"): Verifier => ({ name, verify: () => ({ verdict, reason: `${name} ${verdict}s` }) });

describe("confidence and degradation", () => {
  it("a run starts at 1 and narrows to read-only below readOnlyBelow: writes refused, reads go on", async () => {
    const { rt } = runtime({ verifiers: [says("critic", "disagree")] });
    const run = rt.startRun({ agent: "a", policy: { confidence: { readOnlyBelow: 0.95 } } });
    expect(run.confidence).toBe(1);
    await run.call(read, {});
    const r = await run.verifyDecision({ text: "k is 1", claims: [{ key: "k", value: 1 }] });
    // facts agrees, critic disagrees: not rejected (1 to 1), but the dissent costs 0.1.
    expect(r).toMatchObject({ verdict: "inconclusive", agreed: ["facts"], disagreed: ["critic"] });
    expect(run.confidence).toBeCloseTo(0.9);
    expect(run.mode).toBe("read_only");
    const w = write();
    const o = await run.call(w, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "read_only" } });
    expect(w.spec.execute).not.toHaveBeenCalled();
    expect((await run.call(read, {})).ok).toBe(true);
  });

  it("never widens again, and hands off below handoffBelow", async () => {
    const { rt } = runtime({ verifiers: [says("critic", "disagree")] });
    const run = rt.startRun({ agent: "a", policy: { confidence: { penalties: { verifierDissent: 0.2 } } } });
    await run.call(read, {});
    const d = { text: "k is 1", claims: [{ key: "k", value: 1 }] };
    await run.verifyDecision(d);
    await run.verifyDecision(d);
    expect(run.mode).toBe("read_only");
    const last = await run.verifyDecision(d);
    expect(run.confidence).toBeCloseTo(0.4);
    expect(run.mode).toBe("read_only");
    await run.verifyDecision(d);
    expect(run.mode).toBe("handed_off");
    expect(last.handoff).toBeUndefined();
    expect(run.handoff?.reason).toMatch(/confidence 0\.2 fell below 0\.4 after verifiers disagreed/);
  });

  it("unverified writes lower confidence a little; verified ones do not", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a", policy: { maxUnverifiedDepth: 10 } });
    await run.call(write(), { n: 1 });
    expect(run.confidence).toBeCloseTo(0.95);
    const checked = defineTool({ name: "checked", effect: "write", execute: async () => 1, verify: () => true });
    await run.call(checked, {});
    expect(run.confidence).toBeCloseTo(0.95);
  });

  it("an approved decision passes the verification gate", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a", policy: { maxUnverifiedDepth: 1 } });
    await run.call(read, {});
    const w = write();
    expect((await run.call(w, { n: 1 })).ok).toBe(true);
    expect(await run.call(w, { n: 2 })).toMatchObject({ ok: false, failure: { kind: "verification_required" } });
    const v = await run.verifyDecision({ text: "k is 1", claims: [{ key: "k", value: 1 }] });
    expect(v.verdict).toBe("approved");
    expect(run.unverifiedDepth).toBe(0);
    expect((await run.call(w, { n: 3 })).ok).toBe(true);
  });

  it("an inconclusive decision does not pass the gate", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a", policy: { maxUnverifiedDepth: 1 } });
    await run.call(write(), {});
    const v = await run.verifyDecision({ text: "no claims at all" });
    expect(v.verdict).toBe("inconclusive");
    expect(run.unverifiedDepth).toBe(1);
  });
});

describe("handoff", () => {
  it("handOff writes one durable record and later calls tell the model a person will follow up", async () => {
    const store = memoryStore();
    const { rt } = runtime({ store });
    const run = rt.startRun({ agent: "a" });
    await run.call(read, {});
    const h = await run.handOff("the customer asked for a person");
    expect(await run.handOff("again")).toBe(h);
    expect(await store.handoffs.list({ runId: run.id })).toHaveLength(1);
    expect(run.mode).toBe("handed_off");
    expect((await store.runs.get(run.id))?.mode).toBe("handed_off");
    const o = await run.call(read, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "handed_off", retryable: false } });
    if (!o.ok) expect(o.failure.message).toContain("Tell the user that a person will follow up");
    const v = await run.verifyDecision({ text: "anything" });
    expect(v).toMatchObject({ verdict: "rejected", votes: [] });
    expect(v.message).toContain("a person will follow up");
  });

  it("a store that cannot write the record is reported, and the run is handed off anyway", async () => {
    const store = memoryStore();
    store.handoffs.create = async () => { throw new Error("disk full"); };
    const errors: unknown[] = [];
    const { rt } = runtime({ store, onError: (e) => errors.push(e) });
    const run = rt.startRun({ agent: "a" });
    await run.handOff("why");
    expect(run.mode).toBe("handed_off");
    expect(String(errors[0])).toContain("disk full");
  });
});

describe("options", () => {
  it("bad confidence and verification policies are refused clearly", () => {
    expect(() => createRuntime({ policy: { confidence: { handoffBelow: 0.8, readOnlyBelow: 0.5 } } })).toThrow(/handoffBelow \(0\.8\) must not be above/);
    expect(() => createRuntime({ policy: { confidence: { penalties: { contradiction: 2 } } } })).toThrow(PolicyError);
    expect(() => createRuntime({ policy: { verification: { quorum: 0 } } })).toThrow(/verification\.quorum/);
    expect(() => createRuntime({ verifiers: [{ name: "x" } as never] })).toThrow(/verify\(decision, ctx\)/);
  });

  it("run policy overrides one threshold and keeps the others", async () => {
    const { rt } = runtime({ policy: { confidence: { handoffBelow: 0.2 } } });
    const run = rt.startRun({ agent: "a", policy: { confidence: { readOnlyBelow: 0.9 } } });
    expect(run.policy.confidence).toMatchObject({ handoffBelow: 0.2, readOnlyBelow: 0.9, penalties: { contradiction: 0.65 } });
  });
});

describe("verifyDecision input", () => {
  it("a malformed decision rejects with a TypeError and costs no confidence", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "a" });
    await expect(run.verifyDecision({ text: 42 } as never)).rejects.toThrow(TypeError);
    expect(run.confidence).toBe(1);
  });
});
