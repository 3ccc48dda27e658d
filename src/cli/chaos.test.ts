import { describe, expect, it } from "vitest";
import type { SideReport, SuiteReport } from "../chaos/index.js";
import { table } from "./chaos.js";

const side = (o: Partial<SideReport>): SideReport => ({
  incidents: 0,
  runsWithIncident: 0,
  completed: 10,
  healthyCompleted: 10,
  healthyIncidents: 0,
  healthyRunsWithIncident: 0,
  meanSimulatedMs: 0,
  wallMsPerCall: 0.1,
  ...o,
});

function report(added: number): SuiteReport {
  return {
    seed: 1,
    runs: 10,
    passed: true,
    totals: { incidentsBare: 13, incidentsBulwark: 0, falseHalts: 0, healthyTwins: 10 },
    scenarios: [
      {
        name: "payment-lost-response",
        title: "",
        runs: 10,
        baseline: side({ incidents: 13, runsWithIncident: 4 }),
        bulwark: { ...side({}), falseHalts: 0, falseHaltRate: 0, addedLatencyMsPerCall: added },
        escapedSeeds: [],
      },
    ],
  };
}

describe("the chaos table", () => {
  it("counts runs with an incident (incidents in all beside), and says so", () => {
    const t = table(report(0.25));
    expect(t).toMatch(/runs with incident bare/);
    expect(t).toMatch(/payment-lost-response\s+10\s+4 \(13 incidents\)\s+0\s/);
    expect(t).toContain("Runs with an incident: 4 bare (13 incidents in all), 0 through Bulwark");
    expect(t).toContain("A run counts once however many incidents it had");
    expect(t).toMatch(/0\.250$/m);
  });

  it("never shows a negative added latency: below what the pass can measure is ≈0", () => {
    const t = table(report(-0.042));
    expect(t).not.toContain("-0.042");
    expect(t).toMatch(/≈0$/m);
  });
});
