/**
 * The documented JSONL format: one run per line, `{ runId, agent, label?, calls: [{ tool,
 * args, result | error, at? }] }`. Blank lines are allowed; a line that is not JSON is a
 * problem reported with its line number, and the other lines are still read.
 */
import type { Recording } from "../recording.js";

export function readJsonl(text: string): Recording {
  const recording: Recording = { runs: [], problems: [] };
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line.length === 0) continue;
    const where = `line ${i + 1}`;
    try {
      recording.runs.push({ where, run: JSON.parse(line) });
    } catch (e) {
      recording.problems.push({ where, message: `not JSON (${(e as Error).message})` });
    }
  }
  return recording;
}
