/** Calls completed per second by one loop per run for `ms` (the benches of runs and of the call journal). */
import type { Outcome } from "../src/index.js";

/** `call(run, i, k)` makes the i-th call of the k-th run; a failed call fails the bench. */
export async function callsPerSecond<R>(runs: R[], ms: number, call: (run: R, i: number, k: number) => Promise<Outcome<unknown>>): Promise<number> {
  let n = 0;
  const deadline = Date.now() + ms;
  await Promise.all(
    runs.map(async (run, k) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const o = await call(run, i, k);
        if (!o.ok) throw new Error(`call failed: ${o.failure.message}`);
        n++;
      }
    }),
  );
  return n / (ms / 1000);
}
