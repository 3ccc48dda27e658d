import { describe, expect, it } from "vitest";
import { scenarios } from "bulwark/chaos";

// Each oracle on its own: it sees the incident in bare runs with the fault, and sees none
// in a healthy twin driven through Bulwark (so it does not count a healthy world as harmed).
describe.each(scenarios.map((s) => [s.name, s] as const))("scenario %s", (_name, scenario) => {
  // Up to the first seed with an incident: process-crash starts real processes per episode.
  it("its oracle finds incidents in bare runs with the fault", { timeout: 60_000 }, async () => {
    let incidents = 0;
    for (let seed = 1; seed <= 12 && incidents === 0; seed++) incidents += (await scenario.episode({ seed, guarded: false, faulty: true })).incidents;
    expect(incidents).toBeGreaterThan(0);
  });

  it("its oracle finds none in a healthy twin through Bulwark, and the task is done", async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const r = await scenario.episode({ seed, guarded: true, faulty: false });
      expect(r.incidents).toBe(0);
      expect(r.completed).toBe(true);
    }
  });

  it("replays the same episode from the same seed", async () => {
    const { wallMs: _a, ...a } = await scenario.episode({ seed: 42, guarded: false, faulty: true });
    const { wallMs: _b, ...b } = await scenario.episode({ seed: 42, guarded: false, faulty: true });
    expect(b).toEqual(a);
  });
});
