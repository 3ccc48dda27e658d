import { describe, expect, it } from "vitest";
import { seeded } from "../chaos/random.js";
import { chiSquareSurvival, DriftDetector } from "./drift.js";

const draw = (random: () => number, dist: [string, number][]) => {
  let u = random();
  for (const [k, p] of dist) if ((u -= p) < 0) return k;
  return dist[dist.length - 1]![0];
};
const before: [string, number][] = [
  ["approve", 0.55],
  ["deny", 0.35],
  ["escalate", 0.1],
];
const after: [string, number][] = [
  ["approve", 0.9],
  ["deny", 0.08],
  ["escalate", 0.02],
];

describe("chiSquareSurvival", () => {
  it("matches known quantiles", () => {
    expect(chiSquareSurvival(3.841, 1)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(5.991, 2)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(18.467, 4)).toBeCloseTo(0.001, 4);
    expect(chiSquareSurvival(0, 3)).toBe(1);
    expect(chiSquareSurvival(100, 2)).toBeLessThan(1e-20);
  });
});

describe("DriftDetector", () => {
  it("stays quiet on a stable stream", () => {
    let alarms = 0;
    for (let s = 1; s <= 300; s++) {
      const r = seeded(s);
      const d = new DriftDetector("decisions");
      for (let i = 0; i < 1000; i++) d.observe(draw(r, before));
      if (d.alert) alarms++;
    }
    expect(alarms).toBeLessThanOrEqual(2);
  });

  it("fires within 200 observations of a shift, and only once", () => {
    for (let s = 1; s <= 100; s++) {
      const r = seeded(s);
      const d = new DriftDetector("decisions");
      for (let i = 0; i < 500; i++) d.observe(draw(r, before));
      expect(d.alert).toBeUndefined();
      let fired = 0;
      let at = -1;
      for (let i = 0; i < 400; i++) {
        if (d.observe(draw(r, after))) {
          fired++;
          if (at < 0) at = i;
        }
      }
      expect(fired).toBe(1);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThan(200);
      expect(d.alert!.message).toMatch(/decisions drifted/);
      expect(d.alert!.psi).toBeGreaterThan(0.1);
    }
  });

  it("does not compare before the baseline and the window are full", () => {
    const d = new DriftDetector("x", { baseline: 10, window: 5, checkEvery: 1, alpha: 0.01 });
    for (let i = 0; i < 10; i++) d.observe("a");
    for (let i = 0; i < 4; i++) expect(d.observe("b")).toBeUndefined();
    expect(d.latest).toBeUndefined();
    expect(d.observe("b")).toBeDefined();
    d.reset();
    expect(d.alert).toBeUndefined();
  });

  it("rejects nonsense options", () => {
    expect(() => new DriftDetector("x", { window: 0 })).toThrow(/window/);
    expect(() => new DriftDetector("x", { alpha: 2 })).toThrow(/alpha/);
  });
});
