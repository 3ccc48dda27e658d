import { describe, expect, it, vi } from "vitest";
import { defineTool, jsonSchema, type StandardSchemaV1 } from "./index.js";
import { kindOf, manualRuntime } from "../test/fixtures/runtime.js";

const check = (s: StandardSchemaV1, v: unknown) => s["~standard"].validate(v) as StandardSchemaV1.Result<unknown>;

const order = {
  type: "object",
  properties: {
    customer: { type: "string", format: "email" },
    items: { type: "array", items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer", minimum: 1 } }, required: ["sku"] } },
    note: { type: "string", default: "none" },
  },
  required: ["customer", "items"],
  additionalProperties: false,
};

describe("jsonSchema", () => {
  it("passes a valid value through as the very same object: no defaults, no coercion, keys in their order", () => {
    const value = { items: [{ qty: 2, sku: "A" }], customer: "ann@example.com" };
    const r = check(jsonSchema(order), value);
    expect(r.issues).toBeUndefined();
    expect("value" in r && r.value).toBe(value);
    expect(Object.keys(value)).toEqual(["items", "customer"]);
    expect(value).not.toHaveProperty("note");
  });

  it("reports each problem at its path: wrong types, missing and unexpected properties, formats", () => {
    const r = check(jsonSchema(order), { customer: "not an email", items: [{ sku: "A" }, { sku: 7, qty: 0 }, {}], extra: 1 });
    expect(r.issues?.map((i) => `${(i.path ?? []).join(".")}: ${i.message}`)).toEqual([
      "extra: is not allowed here",
      'customer: must match format "email"',
      "items.1.sku: must be string",
      "items.1.qty: must be >= 1",
      "items.2.sku: required",
    ]);
  });

  it("a tool with a JSON Schema input refuses bad arguments as invalid_input and gets exactly the arguments sent", async () => {
    const { rt } = manualRuntime();
    const execute = vi.fn(async (a: unknown) => a);
    const place = defineTool({ name: "place_order", effect: "write", input: jsonSchema(order), execute });
    const run = rt.startRun({ agent: "shop" });
    const bad = await run.call(place, { customer: "ann@example.com", items: [{ sku: 1 }] });
    expect(bad).toMatchObject({ ok: false, failure: { kind: "invalid_input" } });
    if (!bad.ok) expect(bad.failure.message).toContain("`items[0].sku`: must be string");
    const args = { items: [{ sku: "A" }], customer: "ann@example.com" };
    expect(kindOf(await run.call(place, args))).toBe("ok");
    expect(JSON.stringify(execute.mock.calls[0]![0])).toBe(JSON.stringify(args));
  });

  it("follows draft 2020-12 when the schema says so, draft-07 otherwise", () => {
    const tuple2020 = jsonSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: [{ type: "string" }, { type: "number" }], items: false, $defs: {} });
    expect(check(tuple2020, ["a", 1]).issues).toBeUndefined();
    expect(check(tuple2020, ["a", 1, 2]).issues).toHaveLength(1);
    expect(check(tuple2020, [1, 1]).issues?.[0]).toMatchObject({ path: [0], message: "must be string" });
    const tuple07 = jsonSchema({ $schema: "http://json-schema.org/draft-07/schema#", type: "array", items: [{ type: "string" }], additionalItems: false });
    expect(check(tuple07, ["a"]).issues).toBeUndefined();
    expect(check(tuple07, ["a", "b"]).issues).toHaveLength(1);
    const withRefs = jsonSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", $defs: { id: { type: "string", pattern: "^R\\d+$" } }, type: "object", properties: { id: { $ref: "#/$defs/id" } } });
    expect(check(withRefs, { id: "X1" }).issues?.[0]).toMatchObject({ path: ["id"] });
  });

  it("a boolean schema, the same $id twice, and unknown keywords are fine", () => {
    expect(check(jsonSchema(true), 42).issues).toBeUndefined();
    expect(check(jsonSchema(false), 42).issues).toHaveLength(1);
    const withId = { $id: "https://example.com/order", type: "object", "x-vendor": "acme" };
    jsonSchema(withId);
    expect(check(jsonSchema(withId), {}).issues).toBeUndefined();
  });

  it("a schema that does not compile, or is not a schema, is a TypeError at once", () => {
    expect(() => jsonSchema({ type: "object", properties: { a: { $ref: "#/nowhere" } } })).toThrow(/jsonSchema: the schema does not compile/);
    expect(() => jsonSchema({ type: "nonsense" })).toThrow(/does not compile/);
    expect(() => jsonSchema("string" as never)).toThrow(/expected a JSON Schema/);
    expect(() => jsonSchema([] as never)).toThrow(/got an array/);
  });
});
