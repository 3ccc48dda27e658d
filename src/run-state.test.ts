import { describe, expect, it } from "vitest";
import { failures } from "./failure.js";
import { defaultPolicy, resolvePolicy, type PolicyInput } from "./policy.js";
import { READ_FRESH_MS, RunState } from "./run-state.js";
import { freshRun } from "./run-record.js";
import { memoryStore } from "./store/memory.js";
import type { RunRecord, Store } from "./store/types.js";

const T0 = 1_700_000_000_000;
let now = T0;
const state = (store: Store, policy: PolicyInput = {}, runId = "run-1") =>
  new RunState({ runId, agent: "bot", policy: resolvePolicy(defaultPolicy, policy), store: () => store, now: () => now });
const read = { name: "look", effect: "read" };
const drop = { name: "drop", effect: "destructive" };
const admitAll = () => undefined;

describe("RunState", () => {
  it("reserves a step and a destructive slot; a replay's reservation is given back; a settled action counts as used", async () => {
    const store = memoryStore();
    const s = state(store);
    await s.open();
    expect(await s.reserve("c1", read, 1_000, admitAll)).toEqual({ step: 1 });
    expect(await s.reserve("c2", drop, 1_000, admitAll)).toEqual({ step: 2 });
    expect(s.destructivePending).toBe(1);
    await s.release("c2", true);
    expect(s.steps).toBe(1);
    expect(s.destructivePending).toBe(0);
    await s.reserve("c3", drop, 1_000, admitAll);
    await s.settle({ callId: "c3", tool: "drop", effect: "destructive", executed: true, verified: true }, undefined, undefined, () => "h");
    expect((await store.runs.get("run-1"))?.destructive).toEqual({ used: 1, inFlight: [] });
  });

  it("a slot whose call outlived its lease counts as used (its process died, maybe after the action)", async () => {
    const store = memoryStore();
    const s = state(store);
    await s.reserve("dead", drop, 1_000, admitAll);
    now += 2_000;
    await s.reserve("next", read, 1_000, admitAll);
    expect(s.record.destructive).toEqual({ used: 1, inFlight: [] });
  });

  it("two processes reserving at once from the same record: each reservation is worked out again on the other's, never overspent", async () => {
    const store = memoryStore();
    const a = state(store, { destructive: { maxPerRun: 1 } });
    const b = state(store, { destructive: { maxPerRun: 1 } });
    await Promise.all([a.open(), b.open()]);
    const budget = (r: RunRecord) => (r.destructive.used + r.destructive.inFlight.length >= 1 ? failures.destructiveBudgetExceeded("drop", 1) : undefined);
    const results = await Promise.all([a.reserve("a1", drop, 60_000, budget), b.reserve("b1", drop, 60_000, budget)]);
    expect(results.filter((r) => "step" in r)).toHaveLength(1);
    const stored = (await store.runs.get("run-1"))!;
    expect(stored.destructive.inFlight).toHaveLength(1);
    expect(stored.mode).toBe("read_only");
    expect(stored.narrowedBy).toBe("budget");
  });

  it("a halt committed by one process is never undone by another's concurrent change", async () => {
    const store = memoryStore();
    const a = state(store);
    const b = state(store);
    await Promise.all([a.open(), b.open()]);
    await a.transition("halted", "stopped by a person: enough");
    await b.passGate("a person looked");
    expect(b.mode).toBe("halted");
    expect(await store.runs.get("run-1")).toMatchObject({ mode: "halted", reason: "stopped by a person: enough", gates: [{ reason: "a person looked" }] });
  });

  it("confidence only goes down, compounding across processes, and below the thresholds narrows then hands off once", async () => {
    const store = memoryStore();
    const a = state(store);
    const b = state(store);
    await Promise.all([a.open(), b.open()]);
    const ids = ["h1", "h2"];
    const [ha, hb] = await Promise.all([a.lowerConfidence(0.35, "a decision was rejected", () => ids.shift()!), b.lowerConfidence(0.35, "a decision was rejected", () => ids.shift()!)]);
    const stored = (await store.runs.get("run-1"))!;
    expect(stored.confidence).toBe(0.3);
    expect(stored.mode).toBe("handed_off");
    expect([ha, hb].filter(Boolean)).toHaveLength(1);
    expect(stored.handoff?.reason).toMatch(/^confidence 0.3 fell below 0.4/);
  });

  it("a stop requested in the store halts the run at its next change, and its next read once the record it saw is READ_FRESH_MS old; its signal is cancelled", async () => {
    const halted = (r: RunRecord) => (r.mode === "halted" ? failures.runHalted(r.reason!) : undefined);
    const store = memoryStore();
    const s = state(store);
    await s.open();
    await store.runs.requestStop("run-1", "enough", now);
    expect(await s.reserve("c1", read, 1_000, halted)).toEqual({ step: 1 });
    expect(await s.reserve("c2", drop, 1_000, halted)).toMatchObject({ refused: { kind: "run_halted", detail: { reason: "stopped by a person: enough" } } });
    expect(s.stopSignal.aborted).toBe(true);

    const t = state(store, {}, "run-2");
    await t.open();
    await store.runs.requestStop("run-2", "enough", now);
    now += READ_FRESH_MS;
    expect(await t.reserve("c3", read, 1_000, halted)).toMatchObject({ refused: { kind: "run_halted" } });
  });

  it("reads are counted here and written with the next commit (or a flush): one process never passes the step limit", async () => {
    const store = memoryStore();
    const s = state(store, { maxSteps: 5 });
    await s.open();
    // As admission does: the reads counted here and not yet in the record count too.
    const stepLimit = (r: RunRecord, readsHere = 0) => (r.steps + readsHere >= 5 ? failures.stepLimit(5) : undefined);
    for (let i = 1; i <= 3; i++) expect(await s.reserve(`r${i}`, read, 1_000, stepLimit)).toEqual({ step: i });
    expect((await store.runs.get("run-1"))!.steps).toBe(0);
    expect(s.steps).toBe(3);
    expect(await s.reserve("d1", drop, 1_000, stepLimit)).toEqual({ step: 4 });
    expect((await store.runs.get("run-1"))!.steps).toBe(4);
    expect(await s.reserve("r4", read, 1_000, stepLimit)).toEqual({ step: 5 });
    expect(await s.reserve("r5", read, 1_000, stepLimit)).toMatchObject({ refused: { kind: "step_limit" } });
    await s.flush();
    expect((await store.runs.get("run-1"))!.steps).toBe(5);
  });

  it("a review renews the destructive budget, restores a run narrowed by it, and is recorded; a run narrowed by confidence stays", async () => {
    const store = memoryStore();
    const s = state(store, { destructive: { maxPerRun: 1 } });
    await s.reserve("c1", drop, 1_000, admitAll);
    await s.settle({ callId: "c1", tool: "drop", effect: "destructive", executed: true, verified: true }, undefined, undefined, () => "h");
    await s.refuse("drop", failures.destructiveBudgetExceeded("drop", 1));
    expect(s.mode).toBe("read_only");
    await s.settle({ callId: "w1", tool: "put", effect: "write", executed: true, args: {} }, undefined, undefined, () => "h");
    expect(s.unverifiedDepth).toBe(1);
    const reviewed = await s.review("ann", "checked the drops");
    expect(reviewed).toMatchObject({ mode: "normal", destructive: { used: 0 }, reviews: [{ by: "ann", note: "checked the drops", at: now }] });
    // A person who checked the changes is a verification gate.
    expect(reviewed.unverifiedDepth).toBe(0);
    expect(reviewed.gates.at(-1)).toMatchObject({ reason: "ann reviewed the changes: checked the drops" });
    expect(reviewed.reason).toBeUndefined();
    await s.lowerConfidence(0.35, "a rejected decision", () => "h");
    await s.review("ann");
    expect(s.mode).toBe("read_only");
  });

  it("facts and calls made here ride with the next commit, and a process that resumes the run sees them", async () => {
    const store = memoryStore();
    const s = state(store);
    await s.open();
    const { normalizeFact } = await import("./decide/ledger.js");
    s.ledger.offer(normalizeFact({ key: "balance", value: 10, source: "ledger" }, { now }));
    s.history.call({ callId: "c1", tool: "balance", effect: "read", args: { id: 1 } }, { ok: true, value: 10, callId: "c1", replayed: false }, now);
    await s.flush();
    const later = state(store);
    await later.open();
    expect(later.ledger.get("balance")?.value).toBe(10);
    expect(later.history.lastCalls.map((c) => c.callId)).toEqual(["c1"]);
  });

  it("refuses to resume an ended run or another agent's", async () => {
    const store = memoryStore();
    const s = state(store);
    await s.end();
    await expect(state(store).open()).rejects.toThrow(/run run-1 has ended/);
    await store.runs.create(freshRun("run-2", "someone-else", now));
    await expect(state(store, {}, "run-2").open()).rejects.toThrow(/belongs to agent "someone-else", not "bot"/);
  });

  it("a change that throws fails alone; the others queued beside it commit", async () => {
    const store = memoryStore();
    const s = state(store);
    await s.open();
    const bad = s.apply(() => {
      throw new Error("a policy hook threw");
    });
    const good = s.passGate("ok");
    await expect(bad).rejects.toThrow("a policy hook threw");
    await good;
    expect((await store.runs.get("run-1"))?.gates).toHaveLength(1);
  });

  it("a run that calls faster than its history is due to be written drops no journal entry", async () => {
    const store = memoryStore();
    const s = state(store, { maxSteps: 1e9 });
    await s.open();
    // Within one READ_FRESH_MS (the clock stands still): more calls than the journal holds (HELD).
    for (let i = 0; i < 6_000; i++) {
      const r = await s.reserve(`r${i}`, read, 1_000, admitAll);
      expect(r).toEqual({ step: i + 1 });
      s.called({ callId: `r${i}`, tool: { name: "look", effect: "read", spec: {} }, args: {}, startedAt: now, attempts: 1 }, { ok: true, value: i, callId: `r${i}`, replayed: false }, now);
    }
    await s.flush();
    let seen = 0;
    for (let after: number | undefined; ; ) {
      const page = await store.callJournal!.list("run-1", after === undefined ? {} : { after });
      seen += page.calls.length;
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(seen).toBe(6_000);
  });
});
