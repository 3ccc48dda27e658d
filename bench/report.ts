/**
 * The one shape in which a bench reports its figures: its last line of output is
 * `{"bench": name, "rows": [{ "case", "value", "unit", "better"? }], "goals"?: [...]}`,
 * so that `npm run bench:compare` can read any of them. Parsing is strict: a report that
 * is missing or malformed is an error with the reason, not a silent empty comparison.
 */
import type { Goal } from "./goals.js";

export interface Row {
  case: string;
  value: number;
  /** "calls/s", "us/call", "x raw", … */
  unit: string;
  /** Which way is better; when absent, taken from the unit (see `betterOf`). */
  better?: "higher" | "lower";
}

export interface Report {
  bench: string;
  rows: Row[];
  goals?: Goal[];
}

/** Prints the report line; it must be the bench's last line on stdout. */
export function printReport(report: Report) {
  console.log(JSON.stringify(report));
}

/** Higher is better for rates ("…/s"), lower for times ("us/call", "ms"); otherwise unknown. */
export function betterOf(row: Pick<Row, "unit" | "better">): "higher" | "lower" | undefined {
  if (row.better) return row.better;
  if (/\/s$/.test(row.unit)) return "higher";
  if (/^(ns|us|µs|ms|s)(\/|$)/.test(row.unit)) return "lower";
  return undefined;
}

/** The report in a bench's stdout: its last line that is a JSON object with `bench` and `rows`. */
export function parseReport(stdout: string): Report {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith("{"));
  for (let i = lines.length - 1; i >= 0; i--) {
    let value: unknown;
    try {
      value = JSON.parse(lines[i]!);
    } catch {
      continue;
    }
    if (!isObject(value) || !("bench" in value) || !("rows" in value)) continue;
    const { bench, rows } = value;
    if (typeof bench !== "string") throw new Error(`bench report: "bench" is not a string: ${lines[i]}`);
    if (!Array.isArray(rows)) throw new Error(`bench report of ${bench}: "rows" is not an array`);
    return { bench, rows: rows.map((r, k) => checkRow(bench, r, k)) };
  }
  throw new Error('no bench report in the output (a last line {"bench": …, "rows": […]})');
}

function checkRow(bench: string, r: unknown, k: number): Row {
  const bad = (why: string) => new Error(`bench report of ${bench}, row ${k}: ${why}: ${JSON.stringify(r)}`);
  if (!isObject(r)) throw bad("not an object");
  if (typeof r.case !== "string" || r.case === "") throw bad('"case" is not a non-empty string');
  if (typeof r.value !== "number" || !Number.isFinite(r.value)) throw bad('"value" is not a finite number');
  if (typeof r.unit !== "string") throw bad('"unit" is not a string');
  if (r.better !== undefined && r.better !== "higher" && r.better !== "lower") throw bad('"better" is neither "higher" nor "lower"');
  return { case: r.case, value: r.value, unit: r.unit, ...(r.better ? { better: r.better } : {}) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
