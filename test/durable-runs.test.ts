/**
 * Durable runs, with real processes: a run's guards hold when its next call comes from
 * another process (a stateless request handler, a worker, a restart), on SQLite and on
 * PostgreSQL. Each process is a child (fixtures/run-child.ts) that resumes the run by id.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime } from "../src/index.js";
import { spawnChild, type Child } from "./fixtures/child-process.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";
import { openWorld, type WorldSpec } from "./fixtures/world.js";

const script = fileURLToPath(new URL("./fixtures/run-child.ts", import.meta.url));
const { dir, prefix, up } = await scratchStores("runs");

let n = 0;
const backends = [
  { name: "SQLite", fresh: () => ({ store: `sqlite:${join(dir, `s-${n}.db`)}`, world: { kind: "sqlite", path: join(dir, `w-${n++}.db`) } as WorldSpec }) },
  { name: "PostgreSQL", fresh: () => ({ store: `${PG_URL}?schema=${prefix}_${n}`, world: { kind: "postgres", url: PG_URL, schema: `${prefix}_${n++}_world` } as WorldSpec }) },
];

describe.each(backends)("a run worked by several processes, $name", (b) => {
  const skip = b.name === "PostgreSQL" && !up;
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
  });

  /** A fresh store (migrated once, as after a deployment) and a way to start processes on one run. */
  async function setup(policy: object = {}) {
    const { store, world } = b.fresh();
    const rt = createRuntime({ store });
    await rt.ready();
    await rt.close();
    const w = await openWorld(world);
    const runId = `run-${n}`;
    const start = async (o: { agent?: string } = {}) => {
      const c = spawnChild(script, { store, world, runId, policy, ...o });
      children.push(c);
      const hello = await c.next();
      return { c, hello };
    };
    /** One process's turn: start, do `ops`, exit; the answers. */
    const turn = async (...ops: object[]) => {
      const { c, hello } = await start();
      const answers = [];
      for (const op of ops) answers.push(await c.ask(op));
      c.send({ op: "exit" });
      expect(await c.exited).toBe(0);
      return { hello, answers };
    };
    return { store, w, runId, start, turn };
  }

  it.skipIf(skip)("a run halted by the chain breaker in one process is halted in the next; its destructive call never runs", async () => {
    const { w, turn } = await setup({ maxConsecutiveFailures: 2 });
    const first = await turn({ op: "fail" }, { op: "fail" });
    expect(first.answers[1].state).toMatchObject({ mode: "halted", reason: "the last 2 calls failed (flaky: tool_error, flaky: tool_error)" });
    const second = await turn({ op: "drop" }, { op: "read" });
    expect(second.hello).toMatchObject({ ready: true, mode: "halted", reason: "the last 2 calls failed (flaky: tool_error, flaky: tool_error)" });
    expect(second.answers.map((a) => a.outcomes[0])).toEqual(["run_halted", "run_halted"]);
    expect(await w.count("drop")).toBe(0);
    await w.close();
  }, 30_000);

  it.skipIf(skip)("6 processes × 2 destructive calls at once on one run with a budget of 3: exactly 3 run", async () => {
    const { w, start } = await setup({ destructive: { maxPerRun: 3 }, maxConsecutiveFailures: 100 });
    const procs = await Promise.all(Array.from({ length: 6 }, () => start()));
    for (const p of procs) expect(p.hello).toMatchObject({ ready: true });
    for (const p of procs) p.c.send({ op: "drop", n: 2 });
    const answers = await Promise.all(procs.map((p) => p.c.next()));
    const kinds = answers.flatMap((a) => a.outcomes as string[]);
    expect(kinds.filter((k) => k === "ok")).toHaveLength(3);
    expect(kinds.filter((k) => k !== "ok").every((k) => k === "destructive_budget_exceeded" || k === "read_only")).toBe(true);
    expect(await w.count("drop")).toBe(3);
    // The next process finds the budget spent: it may only read.
    const late = await start();
    expect(late.hello).toMatchObject({ mode: "read_only", destructive: { used: 3, inFlight: 0, max: 3 } });
    expect((await late.c.ask({ op: "drop" })).outcomes).toEqual(["read_only"]);
    expect((await late.c.ask({ op: "read" })).outcomes).toEqual(["ok"]);
    expect(await w.count("drop")).toBe(3);
    for (const p of [...procs, late]) p.c.send({ op: "exit" });
    await w.close();
  }, 60_000);

  it.skipIf(skip)("the step limit and the unverified depth carry over", async () => {
    const { w, turn } = await setup({ maxSteps: 5, maxUnverifiedDepth: 2 });
    const first = await turn({ op: "write", key: "a" }, { op: "write", key: "b" }, { op: "read" });
    expect(first.answers.map((a) => a.outcomes[0])).toEqual(["ok", "ok", "ok"]);
    const second = await turn({ op: "write", key: "c" }, { op: "read" }, { op: "read" }, { op: "read" });
    expect(second.hello).toMatchObject({ steps: 3, unverifiedDepth: 2 });
    expect(second.answers.map((a) => a.outcomes[0])).toEqual(["verification_required", "ok", "ok", "step_limit"]);
    expect(await w.count("c")).toBe(0);
    await w.close();
  }, 30_000);

  it.skipIf(skip)("a fact asserted in one process reconciles against one in the next: a contradiction across processes is still one", async () => {
    const { w, turn } = await setup({ maxConsecutiveFailures: 5 });
    const first = await turn({ op: "fact", source: "ledger-a", value: 10 });
    expect(first.answers[0]).toMatchObject({ outcomes: ["ok"], state: { balance: 10 } });
    const second = await turn({ op: "fact", source: "ledger-b", value: 20 });
    expect(second.hello).toMatchObject({ balance: 10, confidence: 1 });
    expect(second.answers[0].outcomes).toEqual(["contradiction"]);
    // One contradiction hands the run off (default penalties): everywhere, from now on.
    expect(second.answers[0].state).toMatchObject({ mode: "handed_off", balance: null, confidence: 0.35 });
    const third = await turn({ op: "read" });
    expect(third.hello).toMatchObject({ mode: "handed_off", confidence: 0.35, balance: null });
    expect(third.answers[0].outcomes).toEqual(["handed_off"]);
    await w.close();
  }, 30_000);

  it.skipIf(skip)("a run handed off in one process refuses calls in every other, running at once or later", async () => {
    const { w, start, turn } = await setup();
    const other = await start();
    expect((await other.c.ask({ op: "read" })).outcomes).toEqual(["ok"]);
    const first = await turn({ op: "handoff" });
    expect(first.answers[0]).toMatchObject({ mode: "handed_off", handoff: "the customer asked for a person" });
    const refused = await other.c.ask({ op: "drop" });
    expect(refused).toMatchObject({ outcomes: ["handed_off"], details: [{ handedOff: true }], state: { mode: "handed_off" } });
    const later = await turn({ op: "read" });
    expect(later.hello).toMatchObject({ mode: "handed_off", handoff: "the customer asked for a person" });
    expect(later.answers[0]).toMatchObject({ outcomes: ["handed_off"], details: [{ handedOff: true }] });
    expect(await w.count("drop")).toBe(0);
    other.c.send({ op: "exit" });
    await w.close();
  }, 30_000);

  it.skipIf(skip)("an ended run's id is refused in the next process; another agent's run is not taken over", async () => {
    const { w, start, turn } = await setup();
    await turn({ op: "read" });
    const mismatch = await start({ agent: "other-bot" });
    expect(mismatch.hello.refused).toMatch(/belongs to agent "agent", not "other-bot"/);
    expect((await mismatch.c.ask({ op: "read" })).outcomes).toEqual(["run_halted"]);
    mismatch.c.send({ op: "exit" });
    const ended = await turn({ op: "end" });
    expect(ended.answers[0]).toEqual({ ended: true });
    const again = await start();
    expect(again.hello.refused).toMatch(/has ended/);
    expect((await again.c.ask({ op: "drop" })).outcomes).toEqual(["run_halted"]);
    again.c.send({ op: "exit" });
    expect(await w.count("drop")).toBe(0);
    await w.close();
  }, 30_000);
});
