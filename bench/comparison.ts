/**
 * What `npm run bench:compare` computes, as pure functions: its arguments, the local files
 * a bench script needs beside it, and from the reports of alternating runs of two
 * revisions, per case the median of each side and their ratio B/A. The git worktrees and
 * the processes are compare.ts's; nothing here runs a bench.
 */
import { betterOf, type Report } from "./report.js";

/** The benches that compare can run, by name: each ends with a report line (report.ts). */
export const BENCHES = { runs: "bench/runs.ts", core: "bench/core.ts", store: "bench/store.ts" } as const;
export type BenchName = keyof typeof BENCHES;

export interface CompareArgs {
  revA: string;
  revB: string;
  bench: BenchName;
  rounds: number;
  /** Passed to the bench script as they are: what follows a `--`. */
  benchArgs: string[];
}

export const USAGE =
  "usage: npm run bench:compare -- <revA> <revB> [--bench runs|core|store] [--rounds 3] [-- <bench args, e.g. --ms 500 --no-pg>]";

export function parseArgs(argv: readonly string[]): CompareArgs {
  const revs: string[] = [];
  let bench: string = "runs";
  let rounds = 3;
  let benchArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === "--") {
      benchArgs = argv.slice(i + 1);
      break;
    } else if (a === "--bench" || a.startsWith("--bench=")) bench = a.includes("=") ? a.slice(8) : value();
    else if (a === "--rounds" || a.startsWith("--rounds=")) {
      const v = a.includes("=") ? a.slice(9) : value();
      rounds = Number(v);
      if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number ≥ 1, not "${v}"`);
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a} (bench options go after a "--")\n${USAGE}`);
    else revs.push(a);
  }
  if (revs.length !== 2) throw new Error(`two revisions are needed, got ${revs.length}\n${USAGE}`);
  if (!isBenchName(bench)) throw new Error(`unknown bench "${bench}": one of ${Object.keys(BENCHES).join(", ")}`);
  return { revA: revs[0]!, revB: revs[1]!, bench, rounds, benchArgs };
}

const isBenchName = (name: string): name is BenchName => Object.hasOwn(BENCHES, name);

/** The sibling modules a bench script imports (`from "./goals.js"` → "goals.ts"). */
export function localImports(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/(?:from|import)\s*\(?\s*["']\.\/([\w.-]+)\.js["']/g)) found.add(`${m[1]}.ts`);
  return [...found];
}

/** The median; of an even count, the mean of the two middle values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no values");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Side {
  median: number;
  values: number[];
}

export interface CaseComparison {
  case: string;
  unit: string;
  better: "higher" | "lower" | undefined;
  /** Undefined when that side's reports have no such case. */
  a: Side | undefined;
  b: Side | undefined;
  /** median B / median A. */
  ratio: number | undefined;
  /** Whether B is better than A by its median (no judgement of noise: see the values). */
  verdict: "B better" | "B worse" | "same" | undefined;
}

/** Per case, in the order first seen (A's reports first): the medians and B/A. */
export function compareReports(a: readonly Report[], b: readonly Report[]): CaseComparison[] {
  const names = new Set([...a, ...b].map((r) => r.bench));
  if (names.size > 1) throw new Error(`reports of different benches: ${[...names].join(", ")}`);
  const cases = new Map<string, { unit: string; better: "higher" | "lower" | undefined; a: number[]; b: number[] }>();
  const collect = (reports: readonly Report[], side: "a" | "b") => {
    for (const report of reports)
      for (const row of report.rows) {
        let c = cases.get(row.case);
        if (!c) cases.set(row.case, (c = { unit: row.unit, better: betterOf(row), a: [], b: [] }));
        else if (c.unit !== row.unit) throw new Error(`case "${row.case}" is in ${c.unit} in one report and ${row.unit} in another`);
        c[side].push(row.value);
      }
  };
  collect(a, "a");
  collect(b, "b");
  return [...cases].map(([name, c]) => {
    const sideA = c.a.length ? { median: median(c.a), values: c.a } : undefined;
    const sideB = c.b.length ? { median: median(c.b), values: c.b } : undefined;
    const ratio = sideA && sideB && sideA.median !== 0 ? sideB.median / sideA.median : undefined;
    return { case: name, unit: c.unit, better: c.better, a: sideA, b: sideB, ratio, verdict: verdictOf(ratio, c.better) };
  });
}

function verdictOf(ratio: number | undefined, better: "higher" | "lower" | undefined): CaseComparison["verdict"] {
  if (ratio === undefined || better === undefined) return undefined;
  if (ratio === 1) return "same";
  return (ratio > 1) === (better === "higher") ? "B better" : "B worse";
}

/** A figure with about four significant digits, without exponent notation. */
export function formatValue(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString("en-US");
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export function formatComparison(rows: readonly CaseComparison[], labelA: string, labelB: string): string {
  const head = ["case", "unit", `A median`, `B median`, "B/A", "better is", "verdict"];
  const body = rows.map((r) => [
    r.case,
    r.unit,
    r.a ? formatValue(r.a.median) : "-",
    r.b ? formatValue(r.b.median) : "-",
    r.ratio === undefined ? "-" : `${r.ratio.toFixed(3)}x`,
    r.better ?? "?",
    r.verdict ?? "-",
  ]);
  const table = [head, ...body];
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const numeric = new Set([2, 3, 4]);
  const line = (row: string[]) => row.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [`A = ${labelA}`, `B = ${labelB}`, line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
