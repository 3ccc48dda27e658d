/**
 * Time, injectable. The runtime reads time and sleeps only through a Clock, so tests
 * drive backoff, breakers, leases and deadlines with a manual clock instead of real sleeps.
 */
import { setMaxListeners } from "node:events";

export interface Clock {
  now(): number;
  /** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Call `fn` after `ms` unless cancelled; returns the canceller. */
  timer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
  timer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in time order,
 * letting the promise jobs each one schedules run before the next fires.
 */
export class ManualClock implements Clock {
  protected current: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now() {
    return this.current;
  }

  timer(ms: number, fn: () => void) {
    const id = this.seq++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return () => void this.timers.delete(id);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const cancel = this.timer(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      const onAbort = () => {
        cancel();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number) {
    const target = this.current + ms;
    do await settle();
    while (this.fireNext(target));
    this.current = target;
    await settle();
  }

  /**
   * Fire the earliest timer due at or before `limit` (timers due at the same time fire in
   * the order they were made), moving time to it; false when there is none.
   */
  protected fireNext(limit = Infinity): boolean {
    let next: [number, { at: number; fn: () => void }] | undefined;
    for (const entry of this.timers) if (entry[1].at <= limit && (!next || entry[1].at < next[1].at)) next = entry;
    if (!next) return false;
    this.timers.delete(next[0]);
    this.current = Math.max(this.current, next[1].at);
    next[1].fn();
    return true;
  }

  /** How many timers are waiting (for tests that check nothing is left scheduled). */
  get pending() {
    return this.timers.size;
  }
}

/** Let queued promise jobs and I/O callbacks run. */
async function settle() {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * A signal that aborts with the first of `signals` to abort, made to carry any number of
 * listeners: one per call in flight (its attempt, its claim's lease) is work going on, not
 * a leak to warn about.
 */
export function sharedSignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  const signal = present.length === 1 ? present[0]! : AbortSignal.any(present);
  setMaxListeners(0, signal);
  return signal;
}
