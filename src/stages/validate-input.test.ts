import { describe, expect, it } from "vitest";
import { z } from "zod";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { defineTool } from "../tool.js";
import { validateInput } from "./validate-input.js";

describe("validate-in stage", () => {
  it("replaces the arguments with the parsed value (defaults applied)", async () => {
    const env = makeEnv();
    const call = makeCall(defineTool({ name: "t", effect: "read", input: z.object({ limit: z.number().default(10) }), execute: async () => 1 }), {}, makeRun(env), env);
    expect(await validateInput(call)).toBeUndefined();
    expect(call.args).toEqual({ limit: 10 });
  });

  it("names nested fields with their path", async () => {
    const env = makeEnv();
    const input = z.object({ items: z.array(z.object({ sku: z.string() })) });
    const call = makeCall(defineTool({ name: "order", effect: "write", input, execute: async () => 1 }), { items: [{ sku: "a" }, { sku: 7 }] }, makeRun(env), env);
    const f = await validateInput(call);
    expect(f?.kind).toBe("invalid_input");
    expect(f?.message).toContain("`items[1].sku`");
  });

  it("a schema that throws is an invalid call, not a crash", async () => {
    const env = makeEnv();
    const broken = { "~standard": { version: 1, vendor: "x", validate: () => { throw new Error("schema bug"); } } } as never;
    const call = makeCall(defineTool({ name: "t", effect: "read", input: broken, execute: async () => 1 }), {}, makeRun(env), env);
    expect((await validateInput(call))?.message).toContain("the schema itself failed: schema bug");
  });
});
