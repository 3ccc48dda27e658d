/**
 * A clock for simulations: time stands still while the program has work to do, and jumps
 * to the next timer as soon as it is idle. A tool that "hangs for ten minutes" costs no
 * real time, and timeouts, backoff, breakers and deadlines behave as they would in real
 * time, in the same order. Drive a simulation with `clock.run(work)`.
 */
import { performance } from "node:perf_hooks";
import { ManualClock } from "../clock.js";

/** Where simulated time starts, unless told otherwise: 2026-01-01T00:00:00Z. */
export const SIM_START = Date.UTC(2026, 0, 1);

/** A ManualClock that also moves by itself whenever the program is idle. */
export class SimClock extends ManualClock {
  constructor(start = SIM_START) {
    super(start);
  }

  /** Move time forward by `ms` without firing anything (a pause between an agent's turns). */
  skip(ms: number) {
    this.current += ms;
  }

  /**
   * Run `work` to completion, firing timers in time order whenever nothing else is left
   * to do; with no timer left, it gives pending I/O real time.
   */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    let failed = false;
    let value: T | undefined;
    let error: unknown;
    work.then(
      (v) => ((done = true), (value = v)),
      (e) => ((done = failed = true), (error = e)),
    );
    let waitingSince: number | undefined;
    for (;;) {
      await idle();
      if (done) break;
      if (this.fireNext()) {
        waitingSince = undefined;
        continue;
      }
      // I/O is pending (a store, a child process): give it real time. A store answers
      // within a few turns of the event loop, so turn it (which polls I/O) for up to
      // SPIN_MS first; a sleep would add a whole timer tick to every store call and
      // show as Bulwark's latency. Past that, sleep in 1 ms steps rather than spin.
      waitingSince ??= performance.now();
      if (performance.now() - waitingSince < SPIN_MS) await new Promise<void>((r) => setImmediate(r));
      else await new Promise((r) => setTimeout(r, 1));
    }
    if (failed) throw error;
    return value as T;
  }
}

/** How long `run` turns the event loop for pending I/O before it sleeps instead. */
const SPIN_MS = 2;

/** Let queued promise jobs and immediate callbacks run. */
async function idle() {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
