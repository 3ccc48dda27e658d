/**
 * Simulated agents: seeded, and careless in the ways models are careless. They repeat a
 * call in a later turn, retry on any error, trust any output, act on the first source
 * they read, ignore a stop or a freeze, carry on after errors and report success without
 * checking. The same agent drives its tools either bare (the function is called
 * directly, as most agents do today) or through a Bulwark run (`run.call`), so the only
 * difference between the two runs of a scenario is Bulwark.
 */
import { randomUUID } from "node:crypto";
import type { Run } from "../run.js";
import type { Tool, ToolContext } from "../tool.js";
import { describeThrown, type FailureKind } from "../failure.js";
import type { Random } from "./random.js";

/** What the agent sees of a call: the value, or an error it may or may not read. */
export type Seen<O> = { ok: true; value: O } | { ok: false; error: string; kind?: FailureKind; retryable: boolean };

/** How the agent reaches its tools. */
export interface Hands {
  readonly guarded: boolean;
  call<I, O>(tool: Tool<I, O>, args: I): Promise<Seen<O>>;
}

/** Calls the tool's function directly: no timeout, no key, no check. */
export function bareHands(runId = randomUUID()): Hands {
  return {
    guarded: false,
    async call(tool, args) {
      const ctx: ToolContext = { runId, callId: randomUUID(), attempt: 1, signal: new AbortController().signal };
      try {
        return { ok: true, value: await tool.spec.execute(args, ctx) };
      } catch (e) {
        return { ok: false, error: describeThrown(e), retryable: true };
      }
    },
  };
}

/** Calls through a Bulwark run. */
export function guardedHands(run: Run): Hands {
  return {
    guarded: true,
    async call(tool, args) {
      const o = await run.call(tool, args);
      return o.ok ? { ok: true, value: o.value } : { ok: false, error: o.failure.message, kind: o.failure.kind, retryable: o.failure.retryable };
    },
  };
}

export interface Habits {
  /** Extra attempts after any error, whatever it says [2]. */
  retriesOnError: number;
  /** Chance of repeating a call that already succeeded, in a later turn [0.3]. */
  repeats: number;
}

export const carelessHabits: Habits = { retriesOnError: 2, repeats: 0.3 };

export class SimAgent {
  /** Calls made, repeats and retries included. */
  calls = 0;
  /** What each attempt of the latest `try` saw: "ok" or the failure's kind. */
  tried: string[] = [];
  constructor(
    readonly hands: Hands,
    readonly random: Random,
    readonly habits: Habits = carelessHabits,
  ) {}

  /** One call, no retry. */
  async once<I, O>(tool: Tool<I, O>, args: I): Promise<Seen<O>> {
    this.calls++;
    return this.hands.call(tool, args);
  }

  /** A call, retried on any error as models do (they do not read the message). */
  async try<I, O>(tool: Tool<I, O>, args: I): Promise<Seen<O>> {
    this.tried = [];
    const note = (s: Seen<O>) => (this.tried.push(s.ok ? "ok" : (s.kind ?? "error")), s);
    let seen = note(await this.once(tool, args));
    for (let i = 0; !seen.ok && i < this.habits.retriesOnError; i++) seen = note(await this.once(tool, args));
    return seen;
  }

  /** Maybe repeat an earlier call in a later turn (it lost track of having done it). */
  async maybeRepeat<I, O>(tool: Tool<I, O>, args: I): Promise<Seen<O> | undefined> {
    if (!this.random.chance(this.habits.repeats)) return undefined;
    return this.try(tool, args);
  }
}
