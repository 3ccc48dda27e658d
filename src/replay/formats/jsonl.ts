/**
 * JSON Lines: one JSON value per line. Blank lines are allowed; a line that is not JSON
 * is a problem reported with its line number, and the other lines are still read.
 */
import type { InputProblem } from "../recording.js";

export function readJsonl(text: string): { docs: { where: string; doc: unknown }[]; problems: InputProblem[] } {
  const docs: { where: string; doc: unknown }[] = [];
  const problems: InputProblem[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line.length === 0) continue;
    const where = `line ${i + 1}`;
    try {
      docs.push({ where, doc: JSON.parse(line) });
    } catch (e) {
      problems.push({ where, message: `not JSON (${(e as Error).message})` });
    }
  }
  return { docs, problems };
}
