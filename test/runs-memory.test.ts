/**
 * Runs live in the store, not in the runtime: a run nobody holds any more leaves the
 * process's memory (the runtime holds its runs weakly), however many a long-lived process
 * serves without ending them.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createRuntime, defineTool } from "../src/index.js";
import { scratchStores } from "./fixtures/store-pg.js";

setFlagsFromString("--expose_gc");
const gc = runInNewContext("gc") as () => void;
const { dir } = await scratchStores("runs-memory");

const heapAfterGc = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().heapUsed;
};

it("20,000 runs started and never ended do not stay in memory", async () => {
  const rt = createRuntime({ store: `sqlite:${join(dir, "runs.db")}` });
  await rt.ready();
  const lookup = defineTool({ name: "lookup", effect: "read", execute: async (a: { n: number }) => ({ n: a.n, text: "x".repeat(200) }) });
  const before = await heapAfterGc();
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(
      Array.from({ length: 1_000 }, async (_, i) => {
        const run = rt.startRun({ agent: "support", runId: `conv-${batch}-${i}` });
        await run.call(lookup, { n: i });
      }),
    );
  }
  // What the runs hold for the store (the steps of their reads) is written within a second.
  await new Promise((r) => setTimeout(r, 1_500));
  const grown = (await heapAfterGc()) - before;
  // About 8 MB here; 97 MB when the runtime held its runs.
  expect(grown).toBeLessThan(25 * 1024 * 1024);
  expect((await rt.store.runs.list({ limit: 20_000 })).length).toBe(20_000);
  await rt.close();
}, 60_000);
