/**
 * The idempotency claim, as a property: for any interleaving of concurrent duplicate
 * calls, in one run, across runs, and across two runtimes sharing a store, the side
 * effect runs once and every caller gets the same result.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, memoryStore, ToolError } from "bulwark";

describe("idempotency under any interleaving", () => {
  it("runs the effect once and gives every duplicate the same outcome", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 6 }),
        fc.constantFrom("one-run", "many-runs", "two-runtimes"),
        fc.boolean(),
        async (s, duplicates, spread, failFirst) => {
          const store = memoryStore();
          const runtimes = [createRuntime({ store }), createRuntime({ store })];
          let effects = 0;
          let attempts = 0;
          const pay = defineTool({
            name: "pay",
            effect: "write",
            retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
            idempotencyKey: (a: { invoice: string }) => `invoice:${a.invoice}`,
            execute: async (a: { invoice: string }) => {
              attempts++;
              await s.schedule(Promise.resolve(), "network");
              // the first attempt may fail before any effect, saying so (a ToolError), and is retried
              if (failFirst && attempts === 1) throw new ToolError("503: nothing was done");
              effects++;
              return { invoice: a.invoice, charge: `ch_${effects}` };
            },
          });
          const sharedRun = runtimes[0]!.startRun({ agent: "agent" });
          const calls = Array.from({ length: duplicates }, (_, i) =>
            s.schedule(Promise.resolve(i), `call ${i}`).then(() => {
              const rt = spread === "two-runtimes" ? runtimes[i % 2]! : runtimes[0]!;
              const run = spread === "one-run" ? sharedRun : rt.startRun({ agent: "agent" });
              return run.call(pay, { invoice: "inv-1" });
            }),
          );
          const outcomes = await s.waitFor(Promise.all(calls));
          expect(effects).toBe(1);
          expect(outcomes.every((o) => o.ok)).toBe(true);
          const values = new Set(outcomes.map((o) => JSON.stringify(o.ok && o.value)));
          expect(values.size).toBe(1);
          expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
          await Promise.all(runtimes.map((rt) => rt.close()));
        },
      ),
      { numRuns: 150 },
    );
  });
});
