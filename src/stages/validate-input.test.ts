import { describe, expect, it } from "vitest";
import { z } from "zod";
import { makeCall, makeEnv, makeRun } from "../../test/fixtures/call.js";
import { defineTool } from "../tool.js";
import { createRuntime } from "../index.js";
import { copyArguments, validateInput } from "./validate-input.js";

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

describe("the arguments as data: one bounded copy", () => {
  const nested = (depth: number) => {
    let v: unknown = "leaf";
    for (let i = 0; i < depth; i++) v = { d: v };
    return v;
  };

  it("arguments nested 100,000 deep are invalid_input naming the limit, not a stack overflow; through a run too", async () => {
    const env = makeEnv();
    const call = makeCall(defineTool({ name: "t", effect: "write", execute: async () => 1 }), nested(100_000), makeRun(env), env);
    const f = copyArguments(call);
    expect(f).toMatchObject({ kind: "invalid_input" });
    expect(f?.message).toContain("nested more than 64 levels deep (policy maxArgumentDepth)");

    const rt = createRuntime();
    let ran = false;
    const write = defineTool({ name: "save", effect: "write", execute: async () => (ran = true) });
    const o = await rt.startRun({ agent: "a" }).call(write, nested(100_000));
    expect(o.ok ? "ok" : o.failure.kind).toBe("invalid_input");
    expect(ran).toBe(false);
    expect(await rt.startRun({ agent: "b", policy: { maxArgumentDepth: 200 } }).call(write, nested(150))).toMatchObject({ ok: true });
    await rt.close();

    // In shadow mode too: this protects Bulwark itself, it is not a guard to try out.
    const shadow = createRuntime({ enforce: false });
    ran = false;
    const s = await shadow.startRun({ agent: "a" }).call(write, nested(100_000));
    expect(s.ok ? "ok" : s.failure.kind).toBe("invalid_input");
    expect(ran).toBe(false);
    await shadow.close();
  });

  it("arguments over the size limit are invalid_input, and nothing is stored; the limit is the policy's", async () => {
    const rt = createRuntime();
    let ran = false;
    const write = defineTool({ name: "write_file", effect: "write", execute: async () => (ran = true), verify: async () => true });
    const run = rt.startRun({ agent: "a", runId: "big" });
    const o = await run.call(write, { path: "/tmp/x", content: "x".repeat(100 * 1024 * 1024) });
    expect(o.ok ? "ok" : o.failure.message).toMatch(/larger than 1048576 bytes as JSON \(policy maxArgumentBytes\): pass a reference/);
    expect(ran).toBe(false);
    expect(await rt.store.mutations.list("big")).toEqual([]);
    // Multi-byte text counts in bytes; many small parts count too.
    expect((await run.call(write, { content: "é".repeat(600 * 1024) })).ok).toBe(false);
    expect((await run.call(write, { lines: Array.from({ length: 200_000 }, () => "0123456789") })).ok).toBe(false);
    const roomy = rt.startRun({ agent: "b", policy: { maxArgumentBytes: 8 * 1024 * 1024 } });
    expect((await roomy.call(write, { content: "x".repeat(2 * 1024 * 1024) })).ok).toBe(true);
    expect(() => rt.startRun({ agent: "c", policy: { maxArgumentBytes: 0 } })).toThrow(/maxArgumentBytes must be a whole number of at least 1/);
    expect(() => rt.startRun({ agent: "c", policy: { maxArgumentDepth: 100_000 } })).toThrow(/maxArgumentDepth must be at most 1000/);
    await rt.close();
  });

  it("a getter is read once: the approval predicate, the key and the tool see one value", async () => {
    const rt = createRuntime();
    const dropped: string[] = [];
    const drop = defineTool({
      name: "drop_table",
      effect: "destructive",
      approval: (a: { table: string }) => a.table.startsWith("prod_"),
      execute: async (a: { table: string }) => void dropped.push(a.table),
      verify: async () => true,
    });
    let reads = 0;
    // Harmless the first time it is read, production every time after.
    const args = {
      get table() {
        return reads++ === 0 ? "staging_cache" : "prod_users";
      },
    };
    const o = await rt.startRun({ agent: "a" }).call(drop, args);
    expect(o.ok).toBe(true);
    expect(dropped).toEqual(["staging_cache"]);
    expect(reads).toBe(1);
    await rt.close();
  });

  it("copies plain data (a later change by the caller does not reach the call), keeps other objects, keeps a __proto__ key a key, refuses cycles and throwing getters", async () => {
    const env = makeEnv();
    const when = new Date(0);
    const args = { list: [1, { a: "x" }], when } as Record<string, unknown>;
    const call = makeCall(defineTool({ name: "t", effect: "read", execute: async () => 1 }), args, makeRun(env), env);
    expect(copyArguments(call)).toBeUndefined();
    (args.list as unknown[]).push(2);
    expect(call.args).toEqual({ list: [1, { a: "x" }], when });
    expect((call.args as { when: Date }).when).toBe(when);

    const proto = makeCall(defineTool({ name: "t", effect: "read", execute: async () => 1 }), JSON.parse('{"__proto__": {"admin": true}}'), makeRun(env), env);
    expect(copyArguments(proto)).toBeUndefined();
    expect(Object.getPrototypeOf(proto.args)).toBe(Object.prototype);
    expect(Object.keys(proto.args as object)).toEqual(["__proto__"]);
    expect((proto.args as { admin?: boolean }).admin).toBeUndefined();

    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const c = makeCall(defineTool({ name: "t", effect: "read", execute: async () => 1 }), cyclic, makeRun(env), env);
    expect((copyArguments(c))?.message).toContain("refer to themselves");
    const throwing = makeCall(defineTool({ name: "t", effect: "read", execute: async () => 1 }), { get x() { throw new Error("nope"); } }, makeRun(env), env);
    expect((copyArguments(throwing))?.message).toContain("could not be read: nope");
  });
});
