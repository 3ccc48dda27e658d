import { describe, expect, it } from "vitest";
import { z } from "zod";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { defineTool } from "../tool.js";
import { validateOutput } from "./validate-output.js";

function callWith(spec: Partial<Parameters<typeof defineTool>[0]>, output: unknown, args: unknown = {}) {
  const env = makeEnv();
  const call = makeCall(defineTool({ name: "t", effect: "read", execute: async () => output, ...spec }), args, makeRun(env), env);
  call.output = output;
  return call;
}

describe("validate-out stage", () => {
  it("passes a valid response and keeps the schema's parsed value", async () => {
    const call = callWith({ output: z.object({ n: z.coerce.number() }) }, { n: "5" });
    expect(await validateOutput(call)).toBeUndefined();
    expect(call.output).toEqual({ n: 5 });
  });

  it("names the fields of a malformed response: renamed, wrong type, missing", async () => {
    const call = callWith({ output: z.object({ balanceCents: z.number().int(), currency: z.string() }) }, { balance: 12.5, currency: 3 });
    const f = await validateOutput(call);
    expect(f?.kind).toBe("invalid_output");
    expect(f?.message).toContain("`balanceCents`");
    expect(f?.message).toContain("`currency`");
  });

  it("rejects truncated JSON given as text where an object was due", async () => {
    const call = callWith({ output: z.object({ ok: z.boolean() }) }, '{"ok": tr');
    expect((await validateOutput(call))?.kind).toBe("invalid_output");
  });

  it("rejects what JSON cannot carry, even without a schema", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const f = await validateOutput(callWith({}, cyclic));
    expect(f).toMatchObject({ kind: "invalid_output" });
    expect(f?.message).toContain("circular");
  });

  it("runs the semantic check on a valid response, with the arguments", async () => {
    const check = (o: { cents: number }, a: { expected: number }) => (o.cents !== a.expected ? `charged ${o.cents}, asked ${a.expected}` : undefined);
    expect(await validateOutput(callWith({ check }, { cents: 100 }, { expected: 100 }))).toBeUndefined();
    const f = await validateOutput(callWith({ check }, { cents: 10_000 }, { expected: 100 }));
    expect(f).toMatchObject({ kind: "implausible_output", detail: { reason: "charged 10000, asked 100" } });
  });

  it("a check that throws rejects the response instead of passing it", async () => {
    const f = await validateOutput(callWith({ check: () => { throw new Error("boom"); } }, { a: 1 }));
    expect(f).toMatchObject({ kind: "implausible_output" });
    expect(f?.message).toContain("the check itself failed: boom");
  });

  it("an async schema works too (Standard Schema allows it)", async () => {
    const call = callWith({ output: z.object({ id: z.string().refine(async (s) => s.startsWith("ch_"), "must be a charge id") }) }, { id: "x" });
    expect((await validateOutput(call))?.message).toContain("must be a charge id");
  });
});
