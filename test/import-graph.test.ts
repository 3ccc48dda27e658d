import { describe, expect, it } from "vitest";
import { cycles, importsOutside, type ImportGraph } from "./import-graph.js";

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
