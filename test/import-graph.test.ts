import { beforeAll, describe, expect, it } from "vitest";
import { cycles, importGraph, importsOutside, type ImportGraph } from "./import-graph.js";

const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

describe("cycles", () => {
  it("finds none in a graph without one", () => {
    expect(cycles(graph({ a: ["b", "c"], b: ["c"], c: [] }))).toEqual([]);
  });

  it("gives each cycle as the chain of files back to its first", () => {
    expect(cycles(graph({ a: ["b"], b: ["c"], c: ["a"] }))).toEqual([["a", "b", "c", "a"]]);
    expect(cycles(graph({ a: ["a"] }))).toEqual([["a", "a"]]);
  });

  it("finds a cycle that the walk enters from outside it", () => {
    expect(cycles(graph({ a: ["b"], b: ["c"], c: ["b"] }))).toEqual([["b", "c", "b"]]);
  });

  it("finds two cycles through one file", () => {
    expect(cycles(graph({ a: ["b", "c"], b: ["a"], c: ["a"] }))).toEqual([
      ["a", "b", "a"],
      ["a", "c", "a"],
    ]);
  });
});

describe("importsOutside", () => {
  it("names the imports that are not allowed", () => {
    expect(importsOutside(graph({ a: ["b", "c"] }), "a", new Set(["b"]))).toEqual(["c"]);
  });

  it("refuses a file the graph does not have (a leaf renamed or gone)", () => {
    expect(() => importsOutside(graph({}), "a", new Set())).toThrow(/not in the import graph/);
  });
});

/**
 * The leaf layer: what everything uses (time, the clock, ids, canonical JSON, one attempt
 * under a timeout, what was thrown, and the redaction that it applies). A leaf imports
 * nothing of the project but other leaves, so that any module can use it without a cycle.
 */
const LEAVES = new Set(["src/clock.ts", "src/time.ts", "src/ids.ts", "src/canonical-json.ts", "src/attempt.ts", "src/thrown.ts", "src/redact.ts"]);

describe("src/'s imports", () => {
  let graph: ImportGraph;
  beforeAll(() => {
    graph = importGraph();
  }, 60_000);

  it("are read whole: type-only imports and re-exports are edges", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("src/call.ts")).toContain("src/run-state.ts"); // import type
    expect(graph.get("src/index.ts")).toContain("src/run-summary.ts"); // export … from
  });

  it("have no cycle", () => {
    // Each cycle as the chain of files that closes it. A type-only cycle counts: move the type
    // to the module that owns the concept, or down to a shared one, never to `any`.
    expect(cycles(graph).map((chain) => chain.join(" → "))).toEqual([]);
  });

  it.each([...LEAVES])("%s imports only leaves", (leaf) => {
    expect(importsOutside(graph, leaf, LEAVES)).toEqual([]);
  });
});
