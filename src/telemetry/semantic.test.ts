import { describe, expect, it } from "vitest";
import { addProfile, BUCKETS, calibrate, jensenShannon, newSemanticState, observeText } from "./semantic.js";

const profile = (...texts: string[]) => {
  const p = new Array<number>(BUCKETS).fill(0);
  for (const t of texts) addProfile(p, t, 2000);
  return p;
};

describe("semantic drift", () => {
  it("Jensen-Shannon is 0 for the same distribution, 1 for disjoint ones, symmetric, and 0 against nothing", () => {
    const a = profile("the order shipped");
    expect(jensenShannon(a, a.map((x) => x * 3))).toBeCloseTo(0, 12);
    const x = [1, 0, 0];
    const y = [0, 2, 0];
    expect(jensenShannon(x, y)).toBeCloseTo(1, 12);
    const b = profile("ERROR gateway timeout");
    expect(jensenShannon(a, b)).toBeCloseTo(jensenShannon(b, a), 12);
    expect(jensenShannon(a, new Array<number>(BUCKETS).fill(0))).toBe(0);
  });

  it("profiles ignore case, runs of white space and the value of digits, and only the first maxChars", () => {
    expect(profile("Order 123  SHIPPED")).toEqual(profile("order 987 shipped"));
    expect(profile("order shipped")).not.toEqual(profile("order declined"));
    const cut = new Array<number>(BUCKETS).fill(0);
    addProfile(cut, "abc" + "x".repeat(100), 3);
    expect(cut).toEqual(profile("abc"));
  });

  it("calibrates its threshold on the baseline, then compares each block with it", () => {
    const o = { block: 2, baselineBlocks: 3, margin: 2, maxChars: 100 };
    const s = newSemanticState();
    const texts = ["refund approved", "refund denied", "refund approved", "refund approved", "refund denied", "refund denied"];
    for (const t of texts) expect(observeText(s, t, o)).toBeUndefined();
    expect(s.threshold).toBeCloseTo(calibrate(s.baseline, 2), 12);
    expect(s.threshold).toBeGreaterThan(0);
    expect(observeText(s, "refund approved", o)).toBeUndefined();
    expect(observeText(s, "refund denied", o)).toMatchObject({ observed: 8, divergence: expect.any(Number) });
    expect(s.drifting).toBe(false);
    observeText(s, "ERROR upstream gateway timeout", o);
    const check = observeText(s, "ERROR upstream gateway timeout", o)!;
    expect(check.divergence).toBeGreaterThan(check.threshold);
    expect(s.drifting).toBe(true);
  });
});
