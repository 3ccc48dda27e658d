import { describe, expect, it } from "vitest";
import { RetryBudget } from "./retry-budget.js";

describe("RetryBudget", () => {
  const options = { retryRatio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 };

  it("starts with a floor, so a fresh runtime can retry a little", () => {
    const b = new RetryBudget(options, 0);
    let retries = 0;
    while (b.tryWithdraw(0)) retries++;
    expect(retries).toBe(10);
  });

  it("bounds retries during an outage to the ratio of calls plus the floor's refill", () => {
    const b = new RetryBudget(options, 0);
    let retries = 0;
    // 1,000 failing calls over 10 s, each wanting to retry
    for (let i = 0; i < 1_000; i++) {
      const now = i * 10;
      b.deposit();
      if (b.tryWithdraw(now)) retries++;
    }
    // 10 from the reserve + 20% of 1,000 calls + at most ~10 s of floor refill
    expect(retries).toBeGreaterThanOrEqual(200);
    expect(retries).toBeLessThanOrEqual(10 + 200 + 10);
  });

  it("refills the floor with time, but only up to the reserve", () => {
    const b = new RetryBudget(options, 0);
    while (b.tryWithdraw(0));
    expect(b.tryWithdraw(500)).toBe(false);
    expect(b.tryWithdraw(1_000)).toBe(true);
    expect(b.balance).toBeLessThan(1);
    b.tryWithdraw(1_000_000);
    expect(b.balance).toBeCloseTo(9);
  });

  it("caps what healthy calls can bank", () => {
    const b = new RetryBudget(options, 0);
    for (let i = 0; i < 1_000_000; i++) b.deposit();
    expect(b.balance).toBeCloseTo(10 + 20);
  });
});
