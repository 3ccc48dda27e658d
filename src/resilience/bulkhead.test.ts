import { describe, expect, it } from "vitest";
import { Bulkhead } from "./bulkhead.js";

describe("Bulkhead", () => {
  it("grants up to the limit at once, then queues first in first out", async () => {
    const b = new Bulkhead(2);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    const order: number[] = [];
    const first = b.acquire(() => {}).then(() => order.push(1));
    const second = b.acquire(() => {}).then(() => order.push(2));
    expect(b.waiting).toBe(2);
    b.release();
    b.release();
    await Promise.all([first, second]);
    expect(order).toEqual([1, 2]);
    expect(b.inFlight).toBe(2);
  });

  it("a waiter that gives up is never granted the slot", async () => {
    const b = new Bulkhead(1);
    b.tryAcquire();
    let giveUp!: () => void;
    const waiting = b.acquire((cancel) => (giveUp = cancel));
    giveUp();
    expect(await waiting).toBe(false);
    b.release();
    expect(b.inFlight).toBe(0);
    expect(b.waiting).toBe(0);
  });
});
