import { describe, expect, it } from "vitest";
import { fullJitterDelay } from "./backoff.js";

describe("fullJitterDelay", () => {
  it("is uniform below a doubling, capped ceiling", () => {
    expect(fullJitterDelay(1, 100, 5_000, () => 0.999)).toBe(99);
    expect(fullJitterDelay(2, 100, 5_000, () => 0.999)).toBe(199);
    expect(fullJitterDelay(4, 100, 5_000, () => 0.5)).toBe(400);
    expect(fullJitterDelay(20, 100, 5_000, () => 0.999)).toBe(4_995);
    expect(fullJitterDelay(3, 100, 5_000, () => 0)).toBe(0);
  });
});
