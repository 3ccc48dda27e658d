/**
 * A recorded conversation, as every input format turns into it: a run of tool calls, each
 * with its arguments and the result (or error) it got. `checkRun` takes an untrusted value
 * (a JSONL line, a caller's object) to a `RecordedRun`, or says precisely what is wrong.
 */

export interface RecordedCall {
  tool: string;
  args: unknown;
  /** What the tool returned; absent when it failed. */
  result?: unknown;
  /** How the tool failed: its message (a text, or an object with `message`). */
  error?: unknown;
  /** When the call was made: epoch ms or ISO text. Replays judge deadlines and freezes at this time. */
  at?: number | string;
}

export interface RecordedRun {
  runId: string;
  agent?: string;
  /** A person's judgement of the run: a good run must not be stopped, a bad one should be. */
  label?: "good" | "bad";
  calls: RecordedCall[];
}

/** Input that could not be replayed: where it is (a line, a span, a run) and why. */
export interface InputProblem {
  where: string;
  message: string;
}

/** Runs read from a source, each with where it came from, and what could not be read. */
export interface Recording {
  runs: { where: string; run: unknown }[];
  problems: InputProblem[];
}

const LABELS = ["good", "bad"];

/** The run `value` describes, or a text saying what is wrong with it. */
export function checkRun(value: unknown): RecordedRun | string {
  if (!isObject(value)) return `expected a run object { runId, agent, calls }, got ${describe(value)}`;
  const { runId, agent, label, calls } = value;
  if (typeof runId !== "string" || runId.length === 0) return `runId must be a non-empty text, got ${describe(runId)}`;
  if (agent !== undefined && (typeof agent !== "string" || agent.length === 0)) return `agent must be a non-empty text, got ${describe(agent)}`;
  if (label !== undefined && !LABELS.includes(label as string)) return `label must be "good" or "bad", got ${describe(label)}`;
  if (!Array.isArray(calls)) return `calls must be an array, got ${describe(calls)}`;
  for (const [i, c] of calls.entries()) {
    const wrong = checkCall(c);
    if (wrong) return `calls[${i}]: ${wrong}`;
  }
  return value as unknown as RecordedRun;
}

function checkCall(c: unknown): string | undefined {
  if (!isObject(c)) return `expected { tool, args, result } or { tool, args, error }, got ${describe(c)}`;
  if (typeof c.tool !== "string" || c.tool.length === 0) return `tool must be a non-empty text, got ${describe(c.tool)}`;
  if (!("args" in c)) return "has no args";
  const has = ("result" in c ? 1 : 0) + ("error" in c ? 1 : 0);
  if (has !== 1) return has === 0 ? "has neither result nor error" : "has both result and error; a call has one";
  if (c.at !== undefined && !Number.isFinite(typeof c.at === "string" ? Date.parse(c.at) : c.at))
    return `at must be epoch ms or an ISO time, got ${describe(c.at)}`;
  return undefined;
}

/** The message of a recorded error. */
export function errorMessage(error: unknown): string {
  if (typeof error === "string") return error;
  if (isObject(error) && typeof error.message === "string") return error.message;
  return JSON.stringify(error) ?? String(error);
}

/** A recorded time as epoch ms (checked by checkRun). */
export function timeOf(at: number | string): number {
  return typeof at === "string" ? Date.parse(at) : at;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
