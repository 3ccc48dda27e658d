/**
 * A bulkhead: at most `limit` calls of one tool at once; the rest wait in line, first in
 * first out, until a slot frees or their own deadline passes. It keeps a slow dependency
 * from taking every connection and every turn of the agent with it.
 *
 * Written here rather than taken from cockatiel: cockatiel's Bulkhead rejects when its
 * queue is full but cannot let a queued call give up at its own timeout, which is what a
 * tool call needs; the mechanism is a counter and a queue.
 */
export class Bulkhead {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Take a slot now if one is free. */
  tryAcquire(): boolean {
    if (this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  /**
   * Wait for a slot. `onGiveUp` registers the caller's abandonment (its timeout); after
   * it fires the slot is never granted. Resolves true once the slot is held.
   */
  acquire(giveUp: (cancel: () => void) => void): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const grant = () => {
        this.active++;
        resolve(true);
      };
      this.queue.push(grant);
      giveUp(() => {
        const i = this.queue.indexOf(grant);
        if (i >= 0) {
          this.queue.splice(i, 1);
          resolve(false);
        }
      });
    });
  }

  release() {
    this.active--;
    const next = this.queue.shift();
    if (next) next();
  }

  get inFlight() {
    return this.active;
  }

  get waiting() {
    return this.queue.length;
  }
}
