/**
 * A run's timeline and the charts of calls, through the JSON API of `bulwark serve`: a
 * real server over a real SQLite file, the agent's runtime (on a manual clock, so that
 * latencies are known) on the same file. Every call is in the timeline, paged; the latency
 * counts are the journal's calls in the Prometheus histogram's buckets; failure kinds are
 * counted per time bucket; bad input is a 400 that says what is wrong.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, defineTool, ManualClock, memoryStore, ToolError, type Runtime, type Store } from "../src/index.js";
import { startServer, type DashboardServer } from "../src/server/http.js";
import { LATENCY_BUCKETS_SECONDS } from "../src/telemetry/metrics.js";
import { call } from "./fixtures/http.js";

const T0 = Date.UTC(2026, 0, 1);
const clock = new ManualClock(T0);
const fast = defineTool({ name: "lookup", effect: "read", execute: async () => 1 });
const slow = defineTool({
  name: "search",
  effect: "read",
  execute: async () => {
    await clock.advance(300);
    return "found";
  },
});
const broken = defineTool({ name: "inventory", effect: "read", retry: false, execute: async () => { throw new ToolError("inventory is down", { retryable: false }); } });
const guarded = defineTool({ name: "send_mail", effect: "write", rules: [() => "no mail on Sundays"], execute: async () => "sent" });

let dir: string;
let agent: Runtime;
let ops: Runtime;
let server: DashboardServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-timeline-"));
  const store = `sqlite:${join(dir, "bulwark.db")}`;
  agent = createRuntime({ store, clock, onError: () => {} });
  ops = createRuntime({ store });
  await Promise.all([agent.ready(), ops.ready()]);
  server = await startServer({ runtime: ops, port: 0 });
  const run = agent.startRun({ agent: "shop-bot", runId: "run-t1", policy: { maxConsecutiveFailures: 100 } });
  for (let i = 0; i < 10; i++) await run.call(fast, {}, { toolCallId: `call_${i}` });
  await clock.advance(60_000);
  for (let i = 0; i < 3; i++) await run.call(slow, {});
  await run.call(broken, {});
  await clock.advance(60_000);
  await run.call(broken, {});
  await run.call(guarded, {});
  await run.end();
});

afterAll(async () => {
  await server?.close();
  await ops?.close();
  await agent?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GET /api/runs/:id: the run's timeline", () => {
  it("lists every call in order, with outcome, the stage that refused it and why, latency, and confidence over time", async () => {
    const { status, body } = await call(`${server.url}/api/runs/run-t1`);
    expect(status).toBe(200);
    const t = body.timeline;
    expect(t.journal).toBe(true);
    expect(t.next).toBeUndefined();
    expect(t.calls.map((c: { tool: string }) => c.tool)).toEqual([...Array(10).fill("lookup"), "search", "search", "search", "inventory", "inventory", "send_mail"]);
    expect(t.calls[0]).toMatchObject({ toolCallId: "call_0", ok: true, latencyMs: 0, attempts: 1, at: T0 });
    expect(t.calls[10]).toMatchObject({ ok: true, latencyMs: 300, at: T0 + 60_000 });
    expect(t.calls[13]).toMatchObject({ ok: false, failure: { kind: "tool_error", stage: "execute", message: expect.stringContaining("inventory is down") } });
    expect(t.calls[15]).toMatchObject({ ok: false, failure: { kind: "policy_violation", stage: "rules", message: expect.stringContaining("no mail on Sundays") } });
    // Confidence from 1 at the start, lowered by the failed calls, never raised.
    expect(t.confidence[0]).toEqual({ at: T0, confidence: 1 });
    expect(t.confidence).toHaveLength(17);
    const values = t.confidence.map((p: { confidence: number }) => p.confidence);
    expect(values.every((v: number, i: number) => i === 0 || v <= values[i - 1])).toBe(true);
    expect(values.at(-1)).toBeLessThan(1);
    expect(values.at(-1)).toBe(body.summary.confidence);
  });

  it("pages with ?calls= and ?after=", async () => {
    const first = (await call(`${server.url}/api/runs/run-t1?calls=10`)).body.timeline;
    expect(first.calls).toHaveLength(10);
    expect(first.next).toEqual(expect.any(Number));
    const rest = (await call(`${server.url}/api/runs/run-t1?calls=10&after=${first.next}`)).body.timeline;
    expect(rest.calls.map((c: { tool: string }) => c.tool)).toEqual(["search", "search", "search", "inventory", "inventory", "send_mail"]);
    expect(rest.next).toBeUndefined();
  });

  it("refuses a bad page with 400, saying what is wrong", async () => {
    expect(await call(`${server.url}/api/runs/run-t1?after=-1`)).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/\?after must be a whole number/) } } });
    expect(await call(`${server.url}/api/runs/run-t1?calls=0`)).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/\?calls must be a whole number from 1 to 10000/) } } });
    expect((await call(`${server.url}/api/runs/nope`)).status).toBe(404);
  });
});

describe("GET /api/stats/calls: charts of every run's calls", () => {
  const window = `since=${T0}&until=${T0 + 180_000}`;

  it("counts latencies in the Prometheus histogram's buckets, and failure kinds per time bucket", async () => {
    const { status, body } = await call(`${server.url}/api/stats/calls?${window}&buckets=3`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ since: T0, until: T0 + 180_000, calls: 16, truncated: false });
    expect(body.latency.bucketsSeconds).toEqual([...LATENCY_BUCKETS_SECONDS]);
    const expected = new Array(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
    expected[0] = 13; // 10 lookups, 2 failures, 1 refusal: no time passed on the manual clock
    expected[LATENCY_BUCKETS_SECONDS.indexOf(0.5)] = 3; // 300 ms
    expect(body.latency.counts).toEqual(expected);
    expect(body.failures).toEqual({
      bucketMs: 60_000,
      times: [T0, T0 + 60_000, T0 + 120_000],
      kinds: { tool_error: [0, 1, 1], policy_violation: [0, 0, 1] },
      total: [10, 4, 2],
    });
  });

  it("a window that holds no call has empty counts; bad windows are refused with 400", async () => {
    const { body } = await call(`${server.url}/api/stats/calls?since=${T0 - 10_000}&until=${T0}&buckets=2`);
    expect(body).toMatchObject({ calls: 0, failures: { kinds: {}, total: [0, 0] } });
    expect(body.latency.counts.every((n: number) => n === 0)).toBe(true);
    expect(await call(`${server.url}/api/stats/calls?since=${T0 + 5}&until=${T0}`)).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/\?since must be before \?until/) } } });
    expect((await call(`${server.url}/api/stats/calls?since=yesterday`)).status).toBe(400);
    expect(await call(`${server.url}/api/stats/calls?${window}&buckets=0`)).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/\?buckets must be a whole number from 1 to 500/) } } });
  });
});

describe("a store without a call journal (a third party's, written before it existed)", () => {
  it("a run's timeline is the last calls its record keeps, said so; the charts of calls answer 501, saying why", async () => {
    const { callJournal: _none, ...rest } = memoryStore();
    const rt = createRuntime({ store: rest as Store, onError: () => {} });
    const s = await startServer({ runtime: rt, port: 0 });
    try {
      const run = rt.startRun({ agent: "old-store", runId: "run-old" });
      for (let i = 0; i < 12; i++) await run.call(fast, {});
      await run.end();
      const { body } = await call(`${s.url}/api/runs/run-old`);
      expect(body.timeline).toMatchObject({ journal: false, confidence: [] });
      expect(body.timeline.calls).toHaveLength(10);
      expect(body.timeline.calls[0]).toMatchObject({ tool: "lookup", ok: true });
      expect(await call(`${s.url}/api/stats/calls`)).toMatchObject({ status: 501, body: { error: { message: expect.stringContaining("keeps no call journal") } } });
    } finally {
      await s.close();
      await rt.close();
    }
  });
});
