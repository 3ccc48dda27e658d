/**
 * The chaos suite: every scenario, many seeded episodes, each played four ways — with
 * the fault, bare and through Bulwark, and as a healthy twin (no fault), bare and
 * through Bulwark. The report counts, per scenario, the incidents the oracle saw, the
 * tasks done, the healthy twins Bulwark stopped for nothing (false halts), and what
 * Bulwark added in latency.
 */
import { performance } from "node:perf_hooks";
import { seedFor } from "./random.js";
import type { EpisodeResult, Scenario } from "./scenario.js";

export interface SideReport {
  /** Incidents in all, over the faulty episodes. */
  incidents: number;
  /** Faulty episodes with at least one incident. */
  runsWithIncident: number;
  /** Faulty episodes whose task was done. */
  completed: number;
  /** Healthy twins whose task was done. */
  healthyCompleted: number;
  /** Incidents in healthy twins. */
  healthyIncidents: number;
  /** Healthy twins with at least one incident. */
  healthyRunsWithIncident: number;
  /** Mean simulated time per faulty episode. */
  meanSimulatedMs: number;
  /** Mean wall time per call, healthy twins: the agent's work, not the episode's set-up (see EpisodeResult.wallMs). */
  wallMsPerCall: number;
}

export interface ScenarioReport {
  name: string;
  title: string;
  runs: number;
  baseline: SideReport;
  bulwark: SideReport & {
    /** Healthy twins that Bulwark halted, handed off, or kept from finishing. */
    falseHalts: number;
    falseHaltRate: number;
    /** Wall time Bulwark added per call in healthy twins (ms). */
    addedLatencyMsPerCall: number;
  };
  /** The seeds (of the first few) where Bulwark let an incident through. */
  escapedSeeds: number[];
}

export interface SuiteReport {
  seed: number;
  runs: number;
  scenarios: ScenarioReport[];
  totals: { incidentsBare: number; incidentsBulwark: number; falseHalts: number; healthyTwins: number };
  /** True when Bulwark let no incident through. */
  passed: boolean;
}

export interface SuiteOptions {
  runs?: number;
  seed?: number;
  store?: string;
  /** Called after each episode set, for a progress bar. */
  onProgress?: (scenario: string, done: number, of: number) => void;
}

export async function runScenario(scenario: Scenario, options: SuiteOptions = {}): Promise<ScenarioReport> {
  const runs = options.runs ?? 100;
  const seed = options.seed ?? 1;
  const sides = { bare: { faulty: [] as Timed[], healthy: [] as Timed[] }, bulwark: { faulty: [] as Timed[], healthy: [] as Timed[] } };
  const escapedSeeds: number[] = [];
  /** Play seed `i`, bare then through Bulwark, with the fault and/or as the healthy twin. */
  const episodes = async (i: number, twins: readonly boolean[]) => {
    const s = seedFor(seed, i, scenario.name);
    for (const guarded of [false, true]) {
      for (const faulty of twins) {
        const t0 = performance.now();
        const r = await scenario.episode({ seed: s, guarded, faulty, ...(guarded && options.store ? { store: options.store } : {}) });
        // The episode's own measure of the agent's work when it has one (see EpisodeResult.wallMs).
        const timed = { ...r, wallMs: r.wallMs ?? performance.now() - t0 };
        sides[guarded ? "bulwark" : "bare"][faulty ? "faulty" : "healthy"].push(timed);
        if (guarded && r.incidents > 0 && escapedSeeds.length < 10) escapedSeeds.push(s);
      }
    }
  };
  /** Seeds 0 … runs-1, `width` at a time. */
  const pool = async (width: number, each: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(width, runs) }, async () => {
        while (next < runs) await each(next++);
      }),
    );
  };
  const width = Math.max(1, scenario.concurrency ?? 1);
  if (width === 1) {
    let done = 0;
    await pool(1, async (i) => {
      await episodes(i, [true, false]);
      options.onProgress?.(scenario.name, ++done, runs);
    });
  } else {
    // Episodes played at once share this event loop, so the wall time of one would count
    // the others' work too: the healthy twins, whose wall time is the latency measure,
    // are played afterwards, one at a time.
    let faulty = 0;
    let healthy = 0;
    const progress = () => options.onProgress?.(scenario.name, Math.floor((faulty + healthy) / 2), runs);
    await pool(width, async (i) => {
      await episodes(i, [true]);
      faulty++;
      progress();
    });
    await pool(1, async (i) => {
      await episodes(i, [false]);
      healthy++;
      progress();
    });
  }
  const bare = side(sides.bare.faulty, sides.bare.healthy);
  const guarded = side(sides.bulwark.faulty, sides.bulwark.healthy);
  const falseHalts = sides.bulwark.healthy.filter((r) => !r.completed || r.halted).length;
  return {
    name: scenario.name,
    title: scenario.title,
    runs,
    baseline: bare,
    bulwark: {
      ...guarded,
      falseHalts,
      falseHaltRate: runs > 0 ? falseHalts / runs : 0,
      addedLatencyMsPerCall: round(guarded.wallMsPerCall - bare.wallMsPerCall),
    },
    escapedSeeds,
  };
}

export async function runSuite(scenarios: readonly Scenario[], options: SuiteOptions = {}): Promise<SuiteReport> {
  const reports: ScenarioReport[] = [];
  for (const s of scenarios) reports.push(await runScenario(s, options));
  const totals = {
    incidentsBare: sum(reports.map((r) => r.baseline.incidents)),
    incidentsBulwark: sum(reports.map((r) => r.bulwark.incidents + r.bulwark.healthyIncidents)),
    falseHalts: sum(reports.map((r) => r.bulwark.falseHalts)),
    healthyTwins: sum(reports.map((r) => r.runs)),
  };
  return { seed: options.seed ?? 1, runs: options.runs ?? 100, scenarios: reports, totals, passed: totals.incidentsBulwark === 0 };
}

type Timed = EpisodeResult & { wallMs: number };

function side(faulty: Timed[], healthy: Timed[]): SideReport {
  const calls = sum(healthy.map((r) => r.calls));
  return {
    incidents: sum(faulty.map((r) => r.incidents)),
    runsWithIncident: faulty.filter((r) => r.incidents > 0).length,
    completed: faulty.filter((r) => r.completed).length,
    healthyCompleted: healthy.filter((r) => r.completed).length,
    healthyIncidents: sum(healthy.map((r) => r.incidents)),
    healthyRunsWithIncident: healthy.filter((r) => r.incidents > 0).length,
    meanSimulatedMs: round(mean(faulty.map((r) => r.simulatedMs))),
    wallMsPerCall: round(calls > 0 ? sum(healthy.map((r) => r.wallMs)) / calls : 0, 4),
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length > 0 ? sum(xs) / xs.length : 0);
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
