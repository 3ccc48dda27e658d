/**
 * The call journal through the public API: every call of a run (not only the last few the
 * run's record keeps) reaches the store with the run's commits, with its outcome, the stage
 * that refused it and why, latency, attempts, the model's tool call id and the confidence
 * after it; an ended run and a closed runtime leave nothing behind; a runtime in another
 * process reads a child's calls while the child runs; old entries are swept.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, ManualClock, memoryStore, ToolError, type Store } from "../src/index.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";
import { spawnChild } from "./fixtures/child-process.js";

const { dir, prefix, up } = await scratchStores("journal");
let n = 0;
const backends = [
  { name: "SQLite", fresh: () => ({ spec: `sqlite:${join(dir, `j-${n++}.db`)}`, world: { kind: "sqlite" as const, path: join(dir, `w-${n++}.db`) } }), skip: false },
  { name: "PostgreSQL", fresh: () => ({ spec: `${PG_URL}?schema=${prefix}_${n++}`, world: { kind: "postgres" as const, url: PG_URL, schema: `${prefix}_w${n++}` } }), skip: !up },
];

const lookup = defineTool({ name: "lookup", effect: "read", execute: async (a: { q: number }) => a.q });
let flakes = 0;
const flaky = defineTool({
  name: "flaky",
  effect: "read",
  retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
  execute: async () => {
    if (flakes++ % 2 === 0) throw new Error("blip");
    return "fine";
  },
});
const broken = defineTool({ name: "broken", effect: "read", retry: false, execute: async () => { throw new ToolError("the upstream said no", { retryable: false }); } });
const guarded = defineTool({ name: "send_mail", effect: "write", rules: [() => "no mail on Sundays"], execute: async () => "sent" });
const charge = defineTool({ name: "charge", effect: "write", idempotencyKey: (a: { key: string }) => a.key, execute: async (a: { key: string }) => ({ charged: a.key }), verify: async () => true });

describe.each(backends)("the call journal on $name", ({ fresh, skip }) => {
  it.skipIf(skip)("holds every call of a run, beyond the recent history, with outcome, stage, why, attempts, the model's id and the confidence after it", async () => {
    const rt = createRuntime({ store: fresh().spec, onError: () => {} });
    const run = rt.startRun({ agent: "journal-bot", runId: "run-j1", policy: { maxConsecutiveFailures: 50 } });
    for (let q = 0; q < 15; q++) expect((await run.call(lookup, { q }, { toolCallId: `call_${q}` })).ok).toBe(true);
    expect(await run.call(flaky, {})).toMatchObject({ ok: true });
    const refused = await run.call(guarded, {});
    expect(refused.ok ? "ok" : refused.failure.kind).toBe("policy_violation");
    const failed = await run.call(broken, {});
    expect(failed.ok ? "ok" : failed.failure.kind).toBe("tool_error");
    const confidenceAfterFailure = run.confidence;
    expect(confidenceAfterFailure).toBeLessThan(1);
    expect((await run.call(charge, { key: "k1" })).ok).toBe(true);
    expect(await run.call(charge, { key: "k1" })).toMatchObject({ ok: true, replayed: true });
    await run.end();

    const { calls, next } = await rt.store.callJournal!.list("run-j1");
    expect(next).toBeUndefined();
    expect(calls.map((c) => c.tool)).toEqual([...Array(15).fill("lookup"), "flaky", "send_mail", "broken", "charge", "charge"]);
    expect(calls[3]).toMatchObject({ runId: "run-j1", toolCallId: "call_3", effect: "read", ok: true, attempts: 1, confidence: 1 });
    expect(calls[15]).toMatchObject({ tool: "flaky", ok: true, attempts: 2 });
    expect(calls[16]).toMatchObject({ tool: "send_mail", ok: false, failure: { kind: "policy_violation", stage: "rules", message: expect.stringContaining("no mail on Sundays") } });
    expect(calls[17]).toMatchObject({ tool: "broken", ok: false, failure: { kind: "tool_error", stage: "execute", message: expect.stringContaining("the upstream said no") }, confidence: confidenceAfterFailure });
    expect(calls[18]!.replayed).toBeUndefined();
    expect(calls[19]).toMatchObject({ replayed: true, ok: true });
    for (const c of calls) {
      expect(c.latencyMs).toBeGreaterThanOrEqual(0);
      expect(c.callId).toEqual(expect.any(String));
    }
    // Every call once: the call ids are distinct, and the run's own record keeps only the last 10.
    expect(new Set(calls.map((c) => c.callId)).size).toBe(20);
    expect(((await rt.store.runs.get("run-j1"))!.history as { calls: unknown[] }).calls).toHaveLength(10);
    await rt.close();
  });

  it.skipIf(skip)("a runtime closed with a run not ended writes the calls it held; a child process's calls are read by another process while it runs", async () => {
    const { spec, world } = fresh();
    const rt = createRuntime({ store: spec, onError: () => {} });
    const run = rt.startRun({ agent: "journal-bot", runId: "run-j2" });
    for (let q = 0; q < 3; q++) await run.call(lookup, { q });
    await rt.close();
    const reader = createRuntime({ store: spec, onError: () => {} });
    await reader.ready();
    expect((await reader.store.callJournal!.list("run-j2")).calls.map((c) => c.tool)).toEqual(["lookup", "lookup", "lookup"]);

    const child = spawnChild(fileURLToPath(new URL("./fixtures/runtime-child.ts", import.meta.url)), { store: spec, world, runId: "run-child" });
    try {
      expect(await child.next()).toEqual({ ready: true });
      expect((await child.ask({ op: "read" })).outcome.ok).toBe(true);
      expect((await child.ask({ op: "charge", args: { key: "c1", amount: 5 } })).outcome.ok).toBe(true);
      expect((await child.ask({ op: "charge", args: { key: "c1", amount: 5 } })).outcome.replayed).toBe(true);
      // The child goes on running: its calls reach the store with its next commit, or its flush timer.
      await expect.poll(async () => (await reader.store.callJournal!.list("run-child")).calls.map((c) => `${c.tool}${c.replayed ? " (replayed)" : ""}`), { timeout: 15_000, interval: 100 }).toEqual([
        "balance",
        "charge",
        "charge (replayed)",
      ]);
      child.send({ op: "exit" });
      expect(await child.exited).toBe(0);
    } finally {
      await child.kill();
      await reader.close();
    }
  });
});

describe("the call journal's retention", () => {
  it("the sweep deletes calls older than callJournal.retentionMs by the runtime's clock, as the runtime opens its store (then every sweepEveryMs)", async () => {
    const clock = new ManualClock();
    const store: Store = memoryStore();
    const rt = createRuntime({ store, clock, onError: () => {} });
    const run = rt.startRun({ agent: "old", runId: "run-old" });
    await run.call(lookup, { q: 1 });
    await run.end();
    await clock.advance(2 * 24 * 3600_000);
    const recent = rt.startRun({ agent: "new", runId: "run-new" });
    await recent.call(lookup, { q: 2 });
    await recent.end();
    // The memory store outlives its runtime: another runtime on it sweeps as it opens.
    await rt.close();
    const keep3Days = createRuntime({ store, clock, callJournal: { retentionMs: 3 * 24 * 3600_000 } });
    await keep3Days.ready();
    await keep3Days.close();
    expect((await store.callJournal!.recent({ since: 0 })).map((c) => c.runId)).toEqual(["run-new", "run-old"]);
    const keep1Day = createRuntime({ store, clock, callJournal: { retentionMs: 24 * 3600_000 } });
    await keep1Day.ready();
    await expect.poll(async () => (await store.callJournal!.recent({ since: 0 })).map((c) => c.runId)).toEqual(["run-new"]);
    await keep1Day.close();
  });

  it("a retention that is not a duration is refused with its name", () => {
    expect(() => createRuntime({ callJournal: { retentionMs: -1 } })).toThrow(/createRuntime: callJournal\.retentionMs must be/);
    expect(() => createRuntime({ callJournal: { retentionMs: "7d" as unknown as number } })).toThrow(TypeError);
  });
});

// A direct check of the stores' commit path: one transaction carries the record and its entries.
describe("the SQLite store appends the journal in the commit's own transaction", () => {
  it("a commit whose transaction fails leaves neither the record nor its entries", async () => {
    const s = sqliteStore(join(dir, `atomic-${n++}.db`));
    const { record } = await s.runs.create({ runId: "r", agent: "a", status: "running", mode: "normal", steps: 0, startedAt: 1, updatedAt: 1, version: 0, destructive: { used: 0, inFlight: [] }, failures: [], unverifiedDepth: 0, gates: [], confidence: 1, reviews: [] });
    const entry = { runId: "r", callId: "c", tool: "t", effect: "read" as const, ok: true, latencyMs: 1, attempts: 1, at: 1, confidence: 1 };
    // An entry that cannot be stored (not representable as JSON): the append throws inside the transaction, after the record's update.
    await expect(s.runs.commit(record, { ...record, version: 1, steps: 1 }, [entry, { ...entry, latencyMs: 1n as unknown as number }])).rejects.toThrow();
    expect((await s.runs.get("r"))!.version).toBe(0);
    expect((await s.callJournal!.list("r")).calls).toEqual([]);
    await s.close();
  });
});
