import { describe, expect, it } from "vitest";
import { compareReports, formatComparison, localImports, median, parseArgs } from "./comparison.js";
import { goal, formatGoals } from "./goals.js";
import { betterOf, parseReport, type Report } from "./report.js";

const report = (bench: string, rows: [string, number, string?][]): Report => ({
  bench,
  rows: rows.map(([c, value, unit = "calls/s"]) => ({ case: c, value, unit })),
});

describe("parseReport", () => {
  it("takes the last report line, after any other output", () => {
    const out = [
      "memory read 1 in flight  12000 calls/s",
      JSON.stringify({ bench: "runs", rows: [{ case: "old", value: 1, unit: "calls/s" }] }),
      '{"not": "a report"}',
      JSON.stringify({ bench: "runs", rows: [{ case: "a", value: 2.5, unit: "us/call" }], goals: [] }),
      "{ broken json",
      "",
    ].join("\n");
    expect(parseReport(out)).toEqual({ bench: "runs", rows: [{ case: "a", value: 2.5, unit: "us/call" }] });
  });

  it("keeps an explicit direction", () => {
    const out = JSON.stringify({ bench: "store", rows: [{ case: "r", value: 1.2, unit: "x raw", better: "higher" }] });
    expect(parseReport(out).rows[0]).toEqual({ case: "r", value: 1.2, unit: "x raw", better: "higher" });
  });

  it("fails with the reason when there is no report or a row is malformed", () => {
    expect(() => parseReport("just text\n")).toThrow(/no bench report/);
    expect(() => parseReport('{"bench": "runs", "rows": {}}')).toThrow(/"rows" is not an array/);
    expect(() => parseReport('{"bench": "runs", "rows": [{"case": "a", "value": "1", "unit": "calls/s"}]}')).toThrow(/row 0: "value"/);
    expect(() => parseReport('{"bench": "runs", "rows": [{"case": "a", "value": null, "unit": "calls/s"}]}')).toThrow(/finite number/);
    expect(() => parseReport('{"bench": "runs", "rows": [{"value": 1, "unit": "calls/s"}]}')).toThrow(/"case"/);
    expect(() => parseReport('{"bench": "runs", "rows": [{"case": "a", "value": 1, "unit": "x", "better": "up"}]}')).toThrow(/"better"/);
  });
});

describe("betterOf", () => {
  it("reads the direction from the unit unless it is given", () => {
    expect(betterOf({ unit: "calls/s" })).toBe("higher");
    expect(betterOf({ unit: "pairs/s" })).toBe("higher");
    expect(betterOf({ unit: "us/call" })).toBe("lower");
    expect(betterOf({ unit: "ms" })).toBe("lower");
    expect(betterOf({ unit: "x raw" })).toBeUndefined();
    expect(betterOf({ unit: "x raw", better: "higher" })).toBe("higher");
  });
});

describe("median", () => {
  it("is the middle value, or the mean of the two middle ones", () => {
    expect(median([3])).toBe(3);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });
});

describe("compareReports", () => {
  it("gives per case the median of each side, B/A and whether B is better", () => {
    const a = [report("runs", [["read", 100], ["latency", 10, "us/call"]]), report("runs", [["read", 300], ["latency", 30, "us/call"]]), report("runs", [["read", 200], ["latency", 20, "us/call"]])];
    const b = [report("runs", [["read", 500], ["latency", 40, "us/call"]]), report("runs", [["read", 400], ["latency", 40, "us/call"]]), report("runs", [["read", 450], ["latency", 40, "us/call"]])];
    const [read, latency] = compareReports(a, b);
    expect(read).toMatchObject({ case: "read", unit: "calls/s", better: "higher", a: { median: 200, values: [100, 300, 200] }, b: { median: 450 }, verdict: "B better" });
    expect(read!.ratio).toBeCloseTo(2.25);
    expect(latency).toMatchObject({ better: "lower", a: { median: 20 }, b: { median: 40 }, ratio: 2, verdict: "B worse" });
  });

  it("keeps a case only one side has, without a ratio", () => {
    const rows = compareReports([report("core", [["old case", 1]])], [report("core", [["new case", 2]])]);
    expect(rows.map((r) => [r.case, r.a?.median, r.b?.median, r.ratio])).toEqual([
      ["old case", 1, undefined, undefined],
      ["new case", undefined, 2, undefined],
    ]);
  });

  it("refuses reports of different benches, or one case in two units", () => {
    expect(() => compareReports([report("runs", [])], [report("core", [])])).toThrow(/different benches/);
    expect(() => compareReports([report("runs", [["a", 1, "calls/s"]])], [report("runs", [["a", 1, "us/call"]])])).toThrow(/in calls\/s in one report/);
  });

  it("prints a table with the ratio and the direction", () => {
    const text = formatComparison(compareReports([report("runs", [["read", 1000]])], [report("runs", [["read", 1500]])]), "main~1 (abc)", "main (def)");
    expect(text).toContain("A = main~1 (abc)");
    expect(text).toMatch(/read\s+calls\/s\s+1,000\s+1,500\s+1\.500x\s+higher\s+B better/);
  });
});

describe("parseArgs", () => {
  it("takes two revisions, the bench, the rounds and what follows --", () => {
    expect(parseArgs(["v1", "v2"])).toEqual({ revA: "v1", revB: "v2", bench: "runs", rounds: 3, benchArgs: [] });
    expect(parseArgs(["a", "--bench", "core", "b", "--rounds=5", "--", "--ms", "200", "--no-pg"])).toEqual({
      revA: "a", revB: "b", bench: "core", rounds: 5, benchArgs: ["--ms", "200", "--no-pg"],
    });
  });

  it("fails clearly on an unknown bench, bad rounds, an unknown option or a missing revision", () => {
    expect(() => parseArgs(["a", "b", "--bench", "proxy"])).toThrow(/unknown bench "proxy": one of runs, core, store/);
    expect(() => parseArgs(["a", "b", "--rounds", "0"])).toThrow(/--rounds/);
    expect(() => parseArgs(["a", "b", "--rounds"])).toThrow(/needs a value/);
    expect(() => parseArgs(["a", "b", "--ms", "5"])).toThrow(/unknown option --ms/);
    expect(() => parseArgs(["a"])).toThrow(/two revisions/);
  });
});

describe("localImports", () => {
  it("lists the sibling modules a bench imports, not packages or the sources", () => {
    const src = `import pg from "pg";\nimport { goal } from "./goals.js";\nimport { printReport, type Row } from './report.js';\nimport { x } from "../src/index.js";\nconst m = await import("./lazy.js");`;
    expect(localImports(src)).toEqual(["goals.ts", "report.ts", "lazy.ts"]);
  });
});

describe("goals", () => {
  it("is met by the target's side, and never when not measured", () => {
    expect(goal("g", "a ÷ b", 0.2, "<=", 0.25).met).toBe(true);
    expect(goal("g", "a ÷ b", 0.3, "<=", 0.25).met).toBe(false);
    expect(goal("g", "a ÷ b", 1.5, ">=", 1.5).met).toBe(true);
    expect(goal("g", "a ÷ b", undefined, ">=", 1.5)).toMatchObject({ met: false, measured: undefined });
    expect(goal("g", "a ÷ b", Number.NaN, ">=", 1.5)).toMatchObject({ met: false, measured: undefined });
    const text = formatGoals([goal("read", "µs ÷ µs", 0.3, "<=", 0.25), goal("pg", "calls ÷ raw", undefined, ">=", 1.5)]);
    expect(text).toContain("0 of 2 met");
    expect(text).toMatch(/NOT MET\s+read: 0\.30x \(target ≤ 0\.25x; µs ÷ µs\)/);
    expect(text).toMatch(/not measured\s+pg: -/);
  });
});
