/**
 * Reading a recording: the format is told by the content, not the file's name.
 *
 *   JSONL            one run per line, `{ runId, agent?, label?, calls }`, or `steps`
 *                    (an AI SDK result's) in place of `calls`; or one OTLP body per line
 *   a JSON document  an OTLP traces body; AI SDK `steps` (one run, named after the file);
 *                    an array of runs
 */
import { readFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { isObject, type InputProblem, type Recording } from "../recording.js";
import { callsOfSteps, isSteps } from "./ai-sdk-steps.js";
import { readJsonl } from "./jsonl.js";
import { isOtlp, readOtlp } from "./otlp.js";

export async function readRecording(file: string): Promise<Recording> {
  return parseRecording(await readFile(file, "utf8"), basename(file, extname(file)));
}

/** `name` names the run of a document that holds one run's steps. */
export function parseRecording(text: string, name = "recording"): Recording {
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    return fromLines(readJsonl(text));
  }
  if (!Array.isArray(whole)) return fromLines({ docs: [{ where: "line 1", doc: whole }], problems: [] });
  const problems: InputProblem[] = [];
  if (isSteps(whole)) return { runs: [{ where: name, run: { runId: name, calls: callsOfSteps(whole, name, problems) } }], problems };
  return fromLines({ docs: whole.map((doc, i) => ({ where: `run ${i + 1}`, doc })), problems });
}

function fromLines({ docs, problems }: { docs: { where: string; doc: unknown }[]; problems: InputProblem[] }): Recording {
  const otlp = docs.filter((d) => isOtlp(d.doc));
  const recording = readOtlp(otlp, problems);
  for (const { where, doc } of docs) if (!isOtlp(doc)) recording.runs.push({ where, run: withCalls(doc, where, problems) });
  return recording;
}

/** A run given as AI SDK steps becomes a run of calls; any other value is left to checkRun. */
function withCalls(doc: unknown, where: string, problems: InputProblem[]): unknown {
  if (!isObject(doc) || !Array.isArray(doc.steps) || "calls" in doc) return doc;
  const { steps, ...run } = doc;
  return { ...run, calls: callsOfSteps(steps, where, problems) };
}
