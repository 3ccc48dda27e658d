/**
 * How long `replay` takes over 10,000 recorded runs of 10 calls on the memory store (the
 * issue asks for seconds, not minutes), beside a baseline in the same process: the same
 * calls made live through one runtime, one run each, enforcing only.
 *
 *   npx tsx bench/replay.ts [runs] [calls]
 */
import { createRuntime, replay, type RecordedRun, type Tool } from "../src/index.js";
import tools from "../test/fixtures/replay-tools.js";

const RUNS = Number(process.argv[2] ?? 10_000);
const CALLS = Number(process.argv[3] ?? 10);

function recording(): RecordedRun[] {
  const runs: RecordedRun[] = [];
  for (let r = 0; r < RUNS; r++) {
    const calls = [];
    for (let c = 0; c < CALLS; c++) {
      const id = `${r}-${c}`;
      if (c % 5 === 4) calls.push({ tool: "drop_table", args: { table: `t${id}` }, result: { dropped: `t${id}` } });
      else if (c % 3 === 2) calls.push({ tool: "refund", args: { order: id, cents: 100 }, result: { refunded: 100, order: id } });
      else calls.push({ tool: "lookup_order", args: { id }, result: { id, cents: 1200 } });
    }
    runs.push({ runId: `run-${r}`, agent: "ops", label: r % 10 === 0 ? "bad" : "good", calls });
  }
  return runs;
}

async function live(runs: RecordedRun[]): Promise<number> {
  const byName = new Map<string, Tool>(tools.map((t) => [t.name, t]));
  const t0 = performance.now();
  for (const run of runs) {
    const rt = createRuntime({ store: "memory", idempotency: { sweepEveryMs: 0 }, policy: { maxUnverifiedDepth: 100 } });
    const r = rt.startRun({ agent: "ops", runId: run.runId });
    for (const c of run.calls) await r.call(byName.get(c.tool)!, c.args);
    await r.end();
    await rt.close();
  }
  return (performance.now() - t0) / 1000;
}

const runs = recording();
const baseline = await live(runs);
const t0 = performance.now();
const report = await replay(runs, { tools, policy: { maxUnverifiedDepth: 100 } });
const seconds = (performance.now() - t0) / 1000;
const calls = RUNS * CALLS;
console.log(`replay of ${RUNS} runs x ${CALLS} calls (both views): ${seconds.toFixed(2)} s, ${((seconds * 1e6) / calls).toFixed(1)} µs per recorded call`);
console.log(`baseline, the same calls live through a runtime per run (one view): ${baseline.toFixed(2)} s; replay/baseline ${(seconds / baseline).toFixed(2)}x (two views)`);
console.log(`runs stopped ${report.summary.stopped}, calls refused ${report.summary.callsRefused}, skipped ${report.summary.skipped}`);
