/**
 * A tool that asks for input before it acts (a ToolError with `inputRequired`, e.g. an MCP
 * server's `input_required`) ends that round as `input_required`, neutral to the run: no
 * failure for the chain breaker or the tool's breaker, no confidence, its destructive slot
 * given back and its claim released; the call sent again with the input acts, once. On
 * each store, with the run's state read back by a second runtime from the store.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, memoryStore, ToolError, type Store } from "../src/index.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const { dir, prefix, up } = await scratchStores("input-required");

let n = 0;
const backends: { name: string; skip: boolean; fresh: () => Store | string }[] = [
  { name: "memory", skip: false, fresh: () => memoryStore() },
  { name: "SQLite", skip: false, fresh: () => `sqlite:${join(dir, `s-${n++}.db`)}` },
  { name: "PostgreSQL", skip: !up, fresh: () => `${PG_URL}?schema=${prefix}_${n++}` },
];

/** A destructive tool that asks for confirmation `asks` times, then acts on the next call. */
function confirming(asks: number) {
  const seen = { asked: 0, acted: 0, keys: new Set<string | undefined>() };
  const tool = defineTool({
    name: "drop_table",
    effect: "destructive",
    breaker: { windowSize: 4, failureRate: 0.5, minCalls: 2, halfOpenAfterMs: 60_000 },
    execute: async (args: { table: string }, ctx) => {
      seen.keys.add(ctx.idempotencyKey);
      if (seen.asked < asks) {
        seen.asked++;
        throw new ToolError(`confirm dropping ${args.table}`, { inputRequired: true });
      }
      seen.acted++;
      return { dropped: args.table };
    },
  });
  return { tool, seen };
}

describe.each(backends)("a round that asks for input is neutral to the run, $name", (b) => {
  it.skipIf(b.skip)("budget of 1: the call that asks, then the confirmed call that runs, spend one slot; a repeat replays", async () => {
    const store = b.fresh();
    const rt = createRuntime({ store, policy: { destructive: { maxPerRun: 1 } } });
    const { tool, seen } = confirming(1);
    const run = rt.startRun({ agent: "ops", runId: "budget" });
    const asked = await run.call(tool, { table: "users" });
    expect(asked.ok ? undefined : [asked.failure.kind, asked.failure.stage, asked.failure.retryable, asked.failure.message]).toEqual([
      "input_required",
      "execute",
      true,
      expect.stringMatching(/drop_table did not act: it needs input first \(confirm dropping users\).*call it again with the same arguments/),
    ]);
    expect(run.destructive).toEqual({ used: 0, inFlight: 0, max: 1 });
    const done = await run.call(tool, { table: "users" });
    expect(done).toMatchObject({ ok: true, value: { dropped: "users" }, replayed: false });
    const again = await run.call(tool, { table: "users" });
    expect(again).toMatchObject({ ok: true, replayed: true });
    // Asked once, acted once, under one key (the released claim was taken again).
    expect([seen.asked, seen.acted, seen.keys.size]).toEqual([1, 1, 1]);
    expect([run.destructive, run.steps]).toEqual([{ used: 1, inFlight: 0, max: 1 }, 2]);
    const other = createRuntime({ store, policy: { destructive: { maxPerRun: 1 } } });
    const resumed = other.startRun({ agent: "ops", runId: "budget" });
    await resumed.ready();
    expect([resumed.destructive, resumed.steps, resumed.mode]).toEqual([{ used: 1, inFlight: 0, max: 1 }, 2, "normal"]);
    await other.close();
    await rt.close();
  });

  it.skipIf(b.skip)("5 rounds that ask in a row open neither the chain breaker (2) nor the tool's breaker, and cost no confidence", async () => {
    const store = b.fresh();
    const rt = createRuntime({ store, policy: { maxConsecutiveFailures: 2 } });
    const { tool, seen } = confirming(5);
    const run = rt.startRun({ agent: "ops", runId: "chain" });
    for (let i = 0; i < 5; i++) expect(await run.call(tool, { table: "users" })).toMatchObject({ ok: false, failure: { kind: "input_required" } });
    expect([run.mode, run.confidence, run.destructive.used]).toEqual(["normal", 1, 0]);
    expect(await run.call(tool, { table: "users" })).toMatchObject({ ok: true, value: { dropped: "users" } });
    expect([seen.asked, seen.acted]).toEqual([5, 1]);
    const other = createRuntime({ store, policy: { maxConsecutiveFailures: 2 } });
    const resumed = other.startRun({ agent: "ops", runId: "chain" });
    await resumed.ready();
    // The only confidence spent is the change made without a read-back, by the call that acted.
    expect([resumed.mode, resumed.confidence, resumed.steps, resumed.destructive.used]).toEqual(["normal", 0.95, 6, 1]);
    await other.close();
    await rt.close();
  });
});
