/**
 * What the monitors cost a call (`npx tsx bench/monitors.ts`): the same read and write
 * tools through a runtime with monitors on (the default) and off, alternating, medians of
 * 7 samples × 20,000 sequential calls on the memory store. A shared machine: compare the
 * ratio, not the microseconds.
 */
import { createRuntime, defineTool, type Tool } from "../src/index.js";

const CALLS = 20_000;
const SAMPLES = 7;
const read = defineTool({ name: "lookup", effect: "read", execute: async (a: { i: number }) => ({ id: a.i, status: "shipped to Paris" }) });
const write = defineTool({ name: "note", effect: "write", execute: async (a: { i: number }) => ({ saved: a.i }) });

async function sample(monitors: boolean, tool: Tool<{ i: number }, object>): Promise<number> {
  const rt = createRuntime({ monitors: monitors ? { flushMs: 1_000 } : false, policy: { maxSteps: CALLS + 1 } });
  await rt.ready();
  const run = rt.startRun({ agent: "bench" });
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await run.call(tool, { i });
  const us = ((performance.now() - t0) * 1000) / CALLS;
  await rt.close();
  return us;
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, tool] of [["read", read], ["write", write]] as [string, Tool<{ i: number }, object>][]) {
  const on: number[] = [];
  const off: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    off.push(await sample(false, tool));
    on.push(await sample(true, tool));
  }
  console.log(`${name}: monitors off ${median(off).toFixed(2)} µs/call, on ${median(on).toFixed(2)} µs/call (×${(median(on) / median(off)).toFixed(2)})`);
}
