/**
 * What a scenario is, and `play`, which sets up one episode: a simulated clock, a
 * seeded generator, and the agent's hands — bare, or through a fresh Bulwark runtime and
 * run. A scenario is a small world with a ledger of side effects, an agent with a task,
 * and an oracle that counts incidents in the ledger; it never asks the agent or Bulwark
 * whether something went wrong.
 */
import { performance } from "node:perf_hooks";
import { createRuntime, type Runtime } from "../runtime.js";
import type { Run } from "../run.js";
import type { PolicyInput } from "../policy.js";
import type { Verifier } from "../decide/verification.js";
import { SimAgent, bareHands, guardedHands, carelessHabits, type Habits } from "./agent.js";
import { seeded, type Random } from "./random.js";
import { SimClock } from "./sim-clock.js";

export interface EpisodeOptions {
  seed: number;
  /** Through Bulwark (true) or bare (false). */
  guarded: boolean;
  /** With the scenario's fault (true) or its healthy twin (false). */
  faulty: boolean;
  /** The store of the guarded runtime ["memory"]. */
  store?: string;
  /** Told what happens, step by step (the demo listens). */
  narrate?: (line: string) => void;
}

export interface EpisodeResult {
  /** What the oracle counted in the world's ledger. */
  incidents: number;
  /** Whether the task was done (and done right). */
  completed: boolean;
  /** Whether the run ended halted or handed to a person. */
  halted: boolean;
  /** Calls the agent made. */
  calls: number;
  /** Simulated time the episode took. */
  simulatedMs: number;
  /**
   * Real time the agent's work took (ms): its calls and its own logic, not the set-up and
   * tear-down of the episode (opening and closing a runtime and its store), which a
   * long-lived agent process pays once, not per call. Varies from run to run.
   */
  wallMs?: number;
}

export interface Scenario {
  /** Short, kebab-case: the `--scenario` name. */
  name: string;
  /** The incident it replays, in a line. */
  title: string;
  /** Run one seeded episode. */
  episode(options: EpisodeOptions): Promise<EpisodeResult>;
  /** How many episodes may run at once [1]. */
  concurrency?: number;
}

export interface Stage {
  readonly clock: SimClock;
  /** The world's randomness (faults). */
  readonly random: Random;
  readonly agent: SimAgent;
  /** The Bulwark run, when guarded. */
  readonly run: Run | undefined;
  readonly runtime: Runtime | undefined;
  readonly faulty: boolean;
  say(line: string): void;
  /** Another agent session (a new run on the same runtime, or new bare hands). */
  session(): SimAgent;
}

export interface PlayOptions {
  policy?: PolicyInput;
  habits?: Partial<Habits>;
  agent?: string;
  /** Second paths that check the run's decisions (`run.verifyDecision`). */
  verifiers?: Verifier[];
}

/**
 * Play one episode: `script` drives the agent and returns whether the task was done;
 * `oracle` then counts incidents in the world.
 */
export async function play(
  o: EpisodeOptions,
  setup: PlayOptions,
  script: (stage: Stage) => Promise<boolean>,
  oracle: () => number,
): Promise<EpisodeResult> {
  const clock = new SimClock();
  const root = seeded(o.seed);
  const random = root.fork();
  const agentRandom = root.fork();
  const habits = { ...carelessHabits, ...setup.habits };
  let runtime: Runtime | undefined;
  let run: Run | undefined;
  if (o.guarded) {
    runtime = createRuntime({
      store: o.store ?? "memory",
      clock,
      random: root.fork(),
      onError: () => {},
      ...(setup.policy ? { policy: setup.policy } : {}),
      ...(setup.verifiers ? { verifiers: setup.verifiers } : {}),
    });
    run = runtime.startRun({ agent: setup.agent ?? "chaos-agent" });
  }
  const agent = new SimAgent(run ? guardedHands(run) : bareHands(), agentRandom, habits);
  const started = clock.now();
  const runs: Run[] = run ? [run] : [];
  const agents = [agent];
  const session = () => {
    // The runtime was made with setup.policy: every run of it has that policy already.
    const r = runtime?.startRun({ agent: setup.agent ?? "chaos-agent" });
    if (r) runs.push(r);
    const a = new SimAgent(r ? guardedHands(r) : bareHands(), agentRandom.fork(), habits);
    agents.push(a);
    return a;
  };
  const stage: Stage = { clock, random, agent, run, runtime, faulty: o.faulty, say: (l) => o.narrate?.(l), session };
  try {
    // The store opens before the clock starts, so that its opening is not counted as the calls' time.
    if (runtime) await clock.run(runtime.ready());
    const t0 = performance.now();
    const completed = await clock.run(script(stage));
    const wallMs = performance.now() - t0;
    const simulatedMs = clock.now() - started;
    const halted = runs.some((r) => r.mode === "halted" || r.mode === "handed_off");
    await clock.run(Promise.all(runs.map((r) => r.end())));
    return {
      incidents: oracle(),
      completed,
      halted,
      calls: agents.reduce((n, a) => n + a.calls, 0),
      simulatedMs,
      wallMs,
    };
  } finally {
    if (runtime) await clock.run(runtime.close());
  }
}
