/**
 * Durable runs, as a property: whatever the interleaving of calls that several runtimes
 * (processes, for the run) make on one run through one store, the run's budgets are never
 * overspent and its mode never widens, in the store and in what each runtime sees. Reads,
 * which change nothing, are counted by each runtime and written with its next commit
 * (run-state.ts READ_FRESH_MS): runtimes reading one run at once may pass its step limit by
 * at most READS_PER_COMMIT reads each; changes never pass it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, memoryStore, ToolError, type RunMode } from "bulwark";
import { READS_PER_COMMIT } from "../src/run-state.js";

const RANK: Record<RunMode, number> = { normal: 0, read_only: 1, handed_off: 2, halted: 3 };
type Op = "drop" | "write" | "read" | "fail" | "gate";

describe("a run worked by several runtimes at once", () => {
  it("never overspends its destructive budget or steps (reads: by a bounded number), and its mode never widens", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.constantFrom<Op>("drop", "drop", "write", "read", "fail", "gate"), { minLength: 4, maxLength: 24 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 3, max: 12 }),
        async (s, n, ops, maxDrops, maxSteps) => {
          const store = memoryStore();
          const policy = { destructive: { maxPerRun: maxDrops }, maxSteps, maxConsecutiveFailures: 3, maxUnverifiedDepth: 2 };
          const runtimes = Array.from({ length: n }, () => createRuntime({ store, policy, onError: () => {} }));
          const runs = runtimes.map((rt) => rt.startRun({ agent: "agent", runId: "shared" }));
          let drops = 0;
          let executed = 0;
          let changes = 0;
          const net = () => s.schedule(Promise.resolve(), "network");
          const drop = defineTool({ name: "drop", effect: "destructive", execute: async (a: { i: number }) => (await net(), drops++, executed++, changes++, a), verify: async () => true });
          const write = defineTool({ name: "write", effect: "write", execute: async (a: { i: number }) => (await net(), executed++, changes++, a) });
          const read = defineTool({ name: "read", effect: "read", execute: async () => (await net(), executed++, 1) });
          const fail = defineTool({ name: "fail", effect: "read", retry: false, execute: async () => { await net(); executed++; throw new ToolError("500", { retryable: false }); } });
          const seen: RunMode[][] = runs.map(() => []);
          const calls = ops.map((op, i) =>
            s.schedule(Promise.resolve(i), `${op} ${i}`).then(async () => {
              const r = i % n;
              const run = runs[r]!;
              if (op === "gate") await run.passGate("a person checked");
              else if (op === "drop" || op === "write") await run.call(op === "drop" ? drop : write, { i });
              else await run.call(op === "read" ? read : fail, { i });
              seen[r]!.push(run.mode);
            }),
          );
          await s.waitFor(Promise.all(calls));
          const stored = (await store.runs.get("shared"))!;
          expect(drops).toBeLessThanOrEqual(maxDrops);
          expect(changes).toBeLessThanOrEqual(maxSteps);
          expect(executed).toBeLessThanOrEqual(maxSteps + n * READS_PER_COMMIT);
          expect(stored.destructive.used + stored.destructive.inFlight.length).toBe(drops);
          expect(stored.steps).toBeLessThanOrEqual(maxSteps + n * READS_PER_COMMIT);
          for (const modes of seen) for (let k = 1; k < modes.length; k++) expect(RANK[modes[k]!]).toBeGreaterThanOrEqual(RANK[modes[k - 1]!]);
          for (const run of runs) expect(RANK[stored.mode]).toBeGreaterThanOrEqual(RANK[run.mode]);
          await Promise.all(runtimes.map((rt) => rt.close()));
        },
      ),
      { numRuns: 120 },
    );
  });
});
