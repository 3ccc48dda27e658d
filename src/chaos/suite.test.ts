import { describe, expect, it } from "vitest";
import { runSuite, scenarios } from "bulwark/chaos";

// The suite in CI, at a small number of runs: Bulwark lets nothing through, every
// scenario still finds incidents bare, and healthy twins are almost never stopped.
describe("the chaos suite", () => {
  it("20 runs per scenario: 0 incidents through Bulwark, some bare, false halts under 1%", async () => {
    const report = await runSuite(scenarios, { runs: 20, seed: 7 });
    expect(report.scenarios.length).toBeGreaterThanOrEqual(11);
    for (const s of report.scenarios) {
      expect({ name: s.name, escaped: s.bulwark.incidents + s.bulwark.healthyIncidents }).toEqual({ name: s.name, escaped: 0 });
      expect(s.baseline.incidents, s.name).toBeGreaterThan(0);
    }
    expect(report.totals.falseHalts / report.totals.healthyTwins).toBeLessThan(0.01);
    expect(report.passed).toBe(true);
  }, 120_000);
});
