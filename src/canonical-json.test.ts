import { describe, expect, it } from "vitest";
import { assertJson, canonicalJson, digest, NotJsonError } from "./canonical-json.js";

describe("canonicalJson", () => {
  it("gives one text for one value whatever the key order", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: "x" } })).toBe(canonicalJson({ a: { c: "x", d: [1, 2] }, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it("treats number spellings as one number and keeps array order", () => {
    expect(canonicalJson({ n: 1.0 })).toBe(canonicalJson({ n: 1 }));
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it("drops undefined properties as JSON does, and writes dates as ISO text", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
  });

  it.each([
    [{ x: 1n }, "x is a bigint"],
    [{ x: NaN }, "x is NaN"],
    [{ x: [Infinity] }, "x[0] is Infinity"],
    [{ f: () => 1 }, "f is a function"],
    [{ m: new Map() }, "m is an instance of Map"],
    [{ u: new URL("https://a.example/") }, "u is an instance of URL"],
    [{ at: new Date(NaN) }, "at is an invalid Date"],
    [undefined, "the value is undefined"],
    [{ a: [{ b: [0, { c: Symbol("s") }] }] }, "a[0].b[1].c is a symbol"],
    [[[1n]], "[0][0] is a bigint"],
  ])("refuses what JSON cannot carry, naming where (%#); assertJson refuses it alike without writing the text", (value, message) => {
    expect(() => canonicalJson(value)).toThrow(NotJsonError);
    expect(() => canonicalJson(value)).toThrow(message);
    expect(() => assertJson(value)).toThrow(NotJsonError);
    expect(() => assertJson(value)).toThrow(message);
  });

  it("assertJson accepts what canonicalJson writes, shared references and undefined properties included", () => {
    const shared = { v: 1 };
    const values = [{ b: 1, a: { d: [1, 2], c: "x" } }, { a: shared, b: shared, u: undefined }, [new Date(0), null, true, -0], Object.create(null), "t", 3];
    for (const v of values) {
      expect(() => canonicalJson(v)).not.toThrow();
      expect(assertJson(v)).toBeUndefined();
    }
    const cyclic: Record<string, unknown> = { list: [] };
    (cyclic.list as unknown[]).push(cyclic);
    expect(() => assertJson(cyclic)).toThrow("list[0] is a circular reference");
  });

  it("refuses class instances instead of hashing a lossy rendering of them", () => {
    // Every URL has no own enumerable property: rendered as objects, all would be `{}`.
    class Target {
      #host: string;
      constructor(host: string) {
        this.#host = host;
      }
      get host() {
        return this.#host;
      }
    }
    expect(() => canonicalJson({ to: new Target("a.example") })).toThrow("to is an instance of Target");
    expect(() => canonicalJson([new URL("https://b.example/")])).toThrow("[0] is an instance of URL");
    // Plain data, including objects without a prototype, is fine.
    expect(canonicalJson(Object.assign(Object.create(null), { a: 1 }))).toBe('{"a":1}');
  });

  it("refuses cycles but not shared references", () => {
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow("self is a circular reference");
  });

  it("digests to a short stable text", () => {
    expect(digest("a")).toBe(digest("a"));
    expect(digest("a")).not.toBe(digest("b"));
    expect(digest("a")).toHaveLength(32);
  });
});
