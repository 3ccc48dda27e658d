/**
 * Per-call overhead of a guarded call, beside the bare call and peer libraries, in one
 * process: medians of several samples, reported as microseconds per call and as ratios.
 *
 *   bare                  the tool function itself
 *   (a) bulwark read      a read tool through every stage
 *   (b) bulwark write     a write tool with an idempotency record (memory store)
 *   (c) cockatiel         retry + circuit breaker + timeout, wrapped
 *   (d) opossum           breaker with a timeout
 */
import {
  circuitBreaker,
  ConsecutiveBreaker,
  handleAll,
  retry,
  timeout,
  TimeoutStrategy,
  wrap,
  ExponentialBackoff,
} from "cockatiel";
import CircuitBreaker from "opossum";
import { createRuntime, defineTool } from "../src/index.js";
import { goal, printGoals } from "./goals.js";
import { printReport } from "./report.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 7);

type Case = { name: string; setup: () => Promise<(i: number) => Promise<unknown>> };

const noop = async (args: { n: number }) => ({ ok: true, n: args.n });

const cases: Case[] = [
  { name: "bare call", setup: async () => (i) => noop({ n: i }) },
  {
    name: "(a) bulwark read",
    setup: async () => {
      const rt = createRuntime({ policy: { maxSteps: 1e9 } });
      await rt.ready();
      const run = rt.startRun({ agent: "bench" });
      const tool = defineTool({ name: "read", effect: "read", execute: noop });
      return (i) => run.call(tool, { n: i });
    },
  },
  {
    name: "(b) bulwark write",
    setup: async () => {
      const rt = createRuntime({ policy: { maxSteps: 1e9 } });
      await rt.ready();
      const run = rt.startRun({ agent: "bench" });
      // With a read-back, as a production write tool has: unverified writes lower the
      // run's confidence until it may only read, which would measure refusals instead.
      const tool = defineTool({ name: "write", effect: "write", execute: noop, verify: () => true });
      let k = 0;
      // distinct arguments, so that every call executes and records (no replays)
      return () => run.call(tool, { n: k++ });
    },
  },
  {
    name: "(c) cockatiel",
    setup: async () => {
      const policy = wrap(
        retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
        circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
        timeout(10_000, TimeoutStrategy.Cooperative),
      );
      return (i) => policy.execute(() => noop({ n: i }));
    },
  },
  {
    name: "(d) opossum",
    setup: async () => {
      const breaker = new CircuitBreaker(noop, { timeout: 10_000, errorThresholdPercentage: 50, resetTimeout: 30_000 });
      return (i) => breaker.fire({ n: i });
    },
  },
];

async function sample(fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1_000 / CALLS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchCore(): Promise<Record<string, number>> {
  await checkCases();
  const samples: number[][] = cases.map(() => []);
  // Interleave the cases so that drift in the machine's speed hits all of them alike; a
  // fresh setup per sample, so that a store grown by earlier samples is not measured.
  for (let s = -1; s < SAMPLES; s++) {
    for (let c = 0; c < cases.length; c++) {
      const us = await sample(await cases[c]!.setup());
      if (s >= 0) samples[c]!.push(us); // the first round warms up every path
    }
  }
  const result: Record<string, number> = {};
  cases.forEach((c, i) => (result[c.name] = median(samples[i]!)));
  return result;
}

/** Every case must measure what it says: a guarded call that fails would measure a refusal. */
async function checkCases() {
  for (const c of cases) {
    const fn = await c.setup();
    for (let i = 0; i < 200; i++) {
      const out = (await fn(i)) as { ok?: boolean };
      if (out && out.ok === false) throw new Error(`bench case ${c.name} failed on call ${i}: ${JSON.stringify(out)}`);
    }
  }
}

export function printCore(result: Record<string, number>) {
  const bare = result["bare call"]!;
  const a = result["(a) bulwark read"]!;
  const cockatiel = result["(c) cockatiel"]!;
  console.log(`\nPer-call overhead (median of ${SAMPLES} samples x ${CALLS} sequential calls, Node ${process.version})`);
  console.log("case                    µs/call   x bare   x cockatiel");
  for (const [name, us] of Object.entries(result)) {
    console.log(`${name.padEnd(22)} ${us.toFixed(3).padStart(8)} ${(us / bare).toFixed(1).padStart(8)} ${(us / cockatiel).toFixed(2).padStart(12)}`);
  }
  const goals = [
    goal("guarded read / cockatiel retry+breaker+timeout", "µs per guarded read call ÷ µs per cockatiel call: time per call, lower is cheaper", a / cockatiel, "<=", 0.25),
    goal("guarded write / guarded read, memory store", "µs per guarded write call ÷ µs per guarded read call", result["(b) bulwark write"]! / a, "<=", 2),
  ];
  printGoals(goals);
  printReport({ bench: "core", rows: Object.entries(result).map(([name, us]) => ({ case: name, value: us, unit: "us/call" })), goals });
}

if (import.meta.url === `file://${process.argv[1]}`) printCore(await benchCore());
