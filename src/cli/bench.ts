/**
 * `bulwark bench`: what a guarded call costs on this machine and this store, beside the
 * bare call, in one process. A user's question before adopting Bulwark, answered with the
 * public API only. (The repository's `npm run bench` also measures peer libraries and the
 * raw database drivers.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { createRuntime, defineTool, redactText } from "../index.js";
import { whole } from "./shared.js";

interface Options {
  store?: string;
  calls: number;
  samples: number;
  json?: boolean;
}

const noop = async (args: { n: number }) => ({ ok: true, n: args.n });

async function perCall(calls: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1_000 / calls;
}

async function measure(store: string, calls: number, samples: number) {
  const rt = createRuntime({ store, policy: { maxSteps: Number.MAX_SAFE_INTEGER } });
  await rt.ready();
  const read = defineTool({ name: "bench_read", effect: "read", execute: noop });
  const write = defineTool({ name: "bench_write", effect: "write", execute: noop, verify: () => true });
  const cases: Record<string, () => (i: number) => Promise<unknown>> = {
    bare: () => (i) => noop({ n: i }),
    read: () => {
      const run = rt.startRun({ agent: "bench" });
      return (i) => run.call(read, { n: i });
    },
    write: () => {
      const run = rt.startRun({ agent: "bench" });
      return (i) => run.call(write, { n: i });
    },
  };
  const results: Record<string, number[]> = { bare: [], read: [], write: [] };
  for (let s = -1; s < samples; s++) {
    for (const [name, make] of Object.entries(cases)) {
      const us = await perCall(calls, make());
      if (s >= 0) results[name]!.push(us);
    }
  }
  await rt.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { bare: median(results.bare!), read: median(results.read!), write: median(results.write!) };
}

export function benchCommand(): Command {
  return new Command("bench")
    .description("measure the per-call overhead of Bulwark on this machine and store")
    .option("--store <url>", "the store to measure; its runs and keys stay in it [a temporary SQLite file]")
    .option("--calls <n>", "sequential calls per sample", whole, 5000)
    .option("--samples <n>", "samples (the median is reported)", whole, 5)
    .option("--json", "print JSON")
    .action(async ({ store: given, calls, samples, json }: Options) => {
      // Never the agents' store unless asked: a benchmark writes thousands of runs and keys.
      const scratch = given === undefined ? mkdtempSync(join(tmpdir(), "bulwark-bench-")) : undefined;
      const store = given ?? `sqlite:${join(scratch!, "bench.db")}`;
      let r: Awaited<ReturnType<typeof measure>>;
      try {
        r = await measure(store, calls, samples);
      } finally {
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
      if (json) {
        console.log(JSON.stringify({ store: redactText(store), calls, samples, microsecondsPerCall: r }));
        return;
      }
      console.log(`Per-call cost on ${scratch ? "a temporary SQLite file" : redactText(store)} (median of ${samples} x ${calls} sequential calls, Node ${process.version})`);
      console.log(`  bare function call      ${r.bare.toFixed(3).padStart(9)} µs`);
      console.log(`  read tool, guarded      ${r.read.toFixed(3).padStart(9)} µs`);
      console.log(`  write tool, guarded     ${r.write.toFixed(3).padStart(9)} µs   (idempotency record, ledger entry, read-back)`);
    });
}
