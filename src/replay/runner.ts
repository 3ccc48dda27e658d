/**
 * Replay: recorded conversations run through the runtime again, with every tool's
 * `execute` replaced by the result (or error) it recorded, to see what a policy would
 * have allowed or refused, and why. Each run is replayed twice, each time on a fresh
 * memory store with its state carried from call to call as in a live run:
 *
 *   calls    the enforcing view: the run stops at its first refusal, as it would have.
 *   judged   every call judged on its own: the run goes on as it really did (shadow
 *            mode, nothing enforced), so each call gets the verdict the state it really
 *            reached deserves.
 *
 * What a replay cannot do, it does not pretend to: a tool's `verify` would read the live
 * system, so a recorded write counts as verified; `checkpoint` would take a real backup,
 * so it is skipped; a recorded result is final, so there are no retries.
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { systemClock, type Clock } from "../clock.js";
import type { FailureKind, Outcome } from "../failure.js";
import { ToolError } from "../tool-error.js";
import type { PolicyInput } from "../policy.js";
import { createRuntime } from "../runtime.js";
import { defineTool, type Tool, type ToolSpec } from "../tool.js";
import { checkRun, errorMessage, timeOf, type InputProblem, type RecordedCall, type RecordedRun, type Recording } from "./recording.js";
import { summarize, type CallVerdict, type ReplayReport, type RunReplay } from "./report.js";

export interface ReplayOptions {
  /** The agent's tools (as `defineTool` made them): an array, or an object of them by any key. */
  tools: readonly Tool[] | Record<string, Tool>;
  /** The run policy to judge by [the default policy]. */
  policy?: PolicyInput;
  /** Called after each run with how many are done, of how many. */
  onProgress?: (done: number, total: number) => void;
}

/** Replay recorded runs (objects, or a `Recording` read from a file) through the tools and policy. */
export async function replay(input: readonly unknown[] | Recording, options: ReplayOptions): Promise<ReplayReport> {
  const recording: Recording = Array.isArray(input) ? { runs: input.map((run, i) => ({ where: `run ${i + 1}`, run })), problems: [] } : (input as Recording);
  const slot = new Slot();
  const tools = replayTools(options.tools, slot);
  const skipped = [...recording.problems];
  const runs: RunReplay[] = [];
  const policy = { ...options.policy, approvalWaitMs: 0 };
  const started = Date.now();
  for (const [i, { where, run: value }] of recording.runs.entries()) {
    const run = checkRun(value);
    const unknown = typeof run === "string" ? undefined : run.calls.find((c) => !tools.has(c.tool));
    if (typeof run === "string") skipped.push({ where, message: run });
    else if (unknown) skipped.push({ where, message: `run ${JSON.stringify(run.runId)} calls ${JSON.stringify(unknown.tool)}, which is not among the tools (${[...tools.keys()].join(", ")})` });
    else {
      const calls = await replayRun(run, tools, slot, policy, true, started);
      const judged = await replayRun(run, tools, slot, policy, false, started);
      const stop = calls.findIndex((c) => c.refused);
      runs.push({
        runId: run.runId,
        agent: run.agent ?? "replay",
        ...(run.label ? { label: run.label } : {}),
        where,
        recorded: run.calls.length,
        calls,
        ...(stop >= 0 ? { stoppedAt: stop } : {}),
        judged,
      });
    }
    if (options.onProgress) {
      options.onProgress(i + 1, recording.runs.length);
      // Let a progress bar draw: a replay on the memory store never waits for I/O.
      if (i % 64 === 63) await yieldToLoop();
    }
  }
  return { runs, skipped, summary: summarize(runs, skipped) };
}

/** The recorded call being replayed: what the tools' `execute` gives back. */
class Slot {
  call: RecordedCall = { tool: "", args: null, result: null };
  /** Whether the call's recorded error was thrown (the failure is the tool's). */
  threw = false;

  play(): unknown {
    if (!("error" in this.call)) return this.call.result;
    this.threw = true;
    throw new ToolError(errorMessage(this.call.error), { retryable: false });
  }
}

function replayTools(given: ReplayOptions["tools"], slot: Slot): Map<string, Tool> {
  const list = Array.isArray(given) ? given : Object.values(given);
  const tools = new Map<string, Tool>();
  for (const tool of list) {
    if (typeof tool?.spec?.execute !== "function") throw new TypeError(`replay: tools must be made by defineTool, got ${JSON.stringify(tool)}`);
    const spec: ToolSpec<unknown, unknown> = { ...tool.spec, retry: false, execute: () => slot.play() };
    delete spec.checkpoint;
    delete spec.concurrency;
    if (spec.verify) spec.verify = () => true;
    tools.set(tool.name, defineTool(spec));
  }
  if (tools.size === 0) throw new TypeError("replay: no tools given");
  return tools;
}

/**
 * The time of the recording: each call is judged at the time it was made (`at`), so that
 * deadlines and freeze windows hold as they would have. Nothing in a replay waits, but a
 * timer still runs on the system clock rather than never.
 */
class RecordedTime implements Clock {
  constructor(private t: number) {}
  now() {
    return this.t;
  }
  moveTo(at: number | string | undefined) {
    if (at !== undefined) this.t = Math.max(this.t, timeOf(at));
  }
  timer(ms: number, fn: () => void) {
    return systemClock.timer(ms, fn);
  }
  sleep(ms: number, signal?: AbortSignal) {
    return systemClock.sleep(ms, signal);
  }
}

async function replayRun(run: RecordedRun, tools: Map<string, Tool>, slot: Slot, policy: PolicyInput, enforce: boolean, started: number): Promise<CallVerdict[]> {
  const first = run.calls.find((c) => c.at !== undefined)?.at;
  const clock = new RecordedTime(first !== undefined ? timeOf(first) : started);
  const rt = createRuntime({ store: "memory", clock, policy, enforce, idempotency: { sweepEveryMs: 0 } });
  const verdicts: CallVerdict[] = [];
  try {
    const live = rt.startRun({ agent: run.agent ?? "replay", runId: run.runId });
    for (const call of run.calls) {
      clock.moveTo(call.at);
      slot.call = call;
      slot.threw = false;
      const verdict = verdictOf(call.tool, await live.call(tools.get(call.tool)!, call.args), slot.threw);
      verdicts.push(verdict);
      if (enforce && verdict.refused) break;
    }
    await live.end();
  } finally {
    await rt.close();
  }
  return verdicts;
}

function verdictOf(tool: string, outcome: Outcome<unknown>, threw: boolean): CallVerdict {
  // A shadow decision comes first: it is what would have refused the call.
  const decision = outcome.shadow?.[0];
  if (decision) return { tool, refused: true, kind: decision.kind, stage: decision.stage, message: decision.message };
  if (outcome.ok) return outcome.replayed ? { tool, refused: false, replayed: true } : { tool, refused: false };
  const { kind, message, stage } = outcome.failure;
  if (threw && kind === "tool_error") return { tool, refused: false, kind, message };
  return { tool, refused: true, kind, ...(stage ? { stage } : {}), message };
}
