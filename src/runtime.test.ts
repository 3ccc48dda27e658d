import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, memoryStore } from "./index.js";
import { kindOf, manualRuntime } from "../test/fixtures/runtime.js";

const read = defineTool({ name: "lookup", effect: "read", execute: async (a: { id: string }) => a.id });
const write = defineTool({ name: "set_status", effect: "write", execute: async (a: { id: string; status: string }) => a });

describe("createRuntime: wiring the store, the tools' health, the clock and the policy", () => {
  it("refuses a malformed store description at once, naming the forms it takes", () => {
    expect(() => createRuntime({ store: "mysql://db" })).toThrow(/unknown store "mysql:\/\/db"; expected "memory", "sqlite:<path>"/);
    expect(() => createRuntime({ store: "sqlite:" })).toThrow(/"sqlite:" needs a path/);
    expect(() => createRuntime({ store: {} as never })).toThrow(/not a Store object/);
  });

  it("a store object is used as it is, and closed by the runtime", async () => {
    const store = memoryStore();
    let closed = 0;
    const close = store.close.bind(store);
    store.close = async () => {
      closed++;
      await close();
    };
    const rt = createRuntime({ store });
    await rt.ready();
    expect(rt.store).toBe(store);
    await rt.close();
    await rt.close(); // idempotent
    expect(closed).toBe(1);
  });

  it("close aborts the ctx.signal of every call in flight and resolves at once: a hung read (timeout 10 s, 3 attempts) ends as runtime_closed", async () => {
    const rt = createRuntime({ store: "memory" });
    const signals: AbortSignal[] = [];
    let started!: () => void;
    const starting = new Promise<void>((r) => (started = r));
    const hung = defineTool({
      name: "hung_read",
      effect: "read",
      execute: (_: object, ctx) => {
        signals.push(ctx.signal);
        started();
        return new Promise<never>(() => {}); // ignores its signal, never answers
      },
    });
    const run = rt.startRun({ agent: "a" });
    const call = run.call(hung, {});
    await starting;
    const t0 = Date.now();
    await rt.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    const o = await call;
    expect(o).toMatchObject({ ok: false, failure: { kind: "runtime_closed", retryable: true, stage: "execute" } });
    // Not the run's failure: it is not halted, and a later call is refused as closed, not run.
    expect(run.mode).toBe("normal");
    expect(await run.call(hung, {})).toMatchObject({ ok: false, failure: { kind: "runtime_closed" } });
    expect(signals).toHaveLength(1);
  });

  it("an unreachable database rejects ready() with where it looked (no password), never a hang", async () => {
    const rt = createRuntime({ store: "postgres://app:s3cret@127.0.0.1:1/test" });
    const e = await rt.ready().then(() => undefined, (err: unknown) => err);
    expect(String(e)).toMatch(/PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/test/);
    expect(String(e)).not.toContain("s3cret");
    await rt.close();
  });

  it("a freeze declared on the runtime holds for its runs: writes refused, reads go on, lifted by id", async () => {
    const { rt } = manualRuntime();
    const run = rt.startRun({ agent: "ops" });
    const f = await rt.freeze("release in progress", { by: "oncall" });
    expect(kindOf(await run.call(write, { id: "t1", status: "closed" }))).toBe("frozen");
    expect(kindOf(await run.call(read, { id: "t1" }))).toBe("ok");
    expect(await rt.unfreeze(f.id)).toBe(1);
    expect(kindOf(await run.call(write, { id: "t1", status: "closed" }))).toBe("ok");
  });

  it("stopRun stops a run of this runtime at once and says whether it knew the run", async () => {
    const { rt } = manualRuntime();
    const run = rt.startRun({ agent: "ops", runId: "r-stop" });
    expect(await rt.stopRun("r-stop", "wrong customer")).toBe(true);
    expect(run.mode).toBe("halted");
    expect(kindOf(await run.call(read, { id: "x" }))).toBe("run_halted");
    expect(await rt.stopRun("no-such-run", "x")).toBe(false);
  });

});

describe("the store's errors, for the application", () => {
  it("StoreUnavailableError is exported as a class an application can catch with instanceof", async () => {
    const { StoreUnavailableError } = await import("./index.js");
    const rt = createRuntime({ store: "postgres://postgres@127.0.0.1:1/test" });
    const e = await rt.ready().then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(StoreUnavailableError);
    await rt.close();
  });
});
