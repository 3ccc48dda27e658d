/**
 * The JSON API of `bulwark serve`, as an operator's tools use it: a real server on an
 * ephemeral port over a real SQLite file, with an agent's runtime on the same file in
 * the role of the agent process. Bad input gets a clear JSON error with its status.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createRuntime, defineTool, type Runtime, type Tool } from "../src/index.js";
import { startServer, type DashboardServer } from "../src/server/http.js";
import { kindOf } from "./fixtures/runtime.js";
import { call, raw } from "./fixtures/http.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Setup {
  agent: Runtime;
  server: DashboardServer;
  url: string;
  store: string;
}
let open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.reverse()) await close();
  open = [];
});

const undone: unknown[] = [];
const refund = defineTool({
  name: "refund",
  effect: "write",
  execute: async (a: { order: string }) => ({ refunded: a.order }),
  verify: async () => true,
  compensate: async (a: { order: string }) => void undone.push(a.order),
});
const note = defineTool({ name: "note", effect: "write", execute: async () => "ok", verify: async () => true });
const dropTable = defineTool({ name: "drop_table", effect: "destructive", approval: "always", execute: async (a: { table: string }) => `dropped ${a.table}`, verify: async () => true });
const lookup = defineTool({ name: "lookup", effect: "read", execute: async () => 1 });

async function setup(o: { tools?: Tool[] } = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-serve-"));
  dirs.push(dir);
  const store = `sqlite:${join(dir, "bulwark.db")}`;
  const agent = createRuntime({ store, breakerSyncMs: 60_000 });
  const ops = createRuntime({ store });
  await Promise.all([agent.ready(), ops.ready()]);
  const server = await startServer({ runtime: ops, port: 0, ...(o.tools ? { tools: o.tools } : {}) });
  open.push(async () => {
    await server.close();
    await ops.close();
    await agent.close();
  });
  return { agent, server, url: server.url, store };
}

describe("runs", () => {
  it("GET /api/runs lists recent runs with their mode and reason; GET /api/runs/:id the record and its changes", async () => {
    const { agent, url } = await setup();
    const run = agent.startRun({ agent: "db-bot", runId: "run-ro", policy: { destructive: { maxPerRun: 1 }, maxConsecutiveFailures: 5 } });
    const drop = defineTool({ name: "drop", effect: "destructive", execute: async () => 1, verify: async () => true });
    expect(kindOf(await run.call(drop, { t: 1 }))).toBe("ok");
    expect(kindOf(await run.call(drop, { t: 2 }))).toBe("destructive_budget_exceeded");
    const other = agent.startRun({ agent: "support-bot", runId: "run-ok" });
    await other.call(lookup, {});
    await other.end();

    const list = await call(`${url}/api/runs`);
    expect(list.status).toBe(200);
    expect(list.body.runs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ runId: "run-ro", agent: "db-bot", mode: "read_only", narrowedBy: "budget", reason: expect.stringMatching(/destructive budget/), steps: 1 }),
        expect.objectContaining({ runId: "run-ok", mode: "normal", status: "ended", steps: 1, destructive: { used: 0, inFlight: 0, max: 3 } }),
      ]),
    );
    // The budget as the store has it; its max is the server's policy (the default here; the run had its own).
    expect(list.body.runs.find((r: { runId: string }) => r.runId === "run-ro").destructive).toEqual({ used: 1, inFlight: 0, max: 3 });
    // A summary, not the record: no facts or history in a list.
    expect(Object.keys(list.body.runs[0])).not.toContain("history");
    expect((await call(`${url}/api/runs?status=ended`)).body.runs.map((r: { runId: string }) => r.runId)).toEqual(["run-ok"]);
    expect((await call(`${url}/api/runs?limit=1`)).body.runs).toHaveLength(1);

    const one = await call(`${url}/api/runs/run-ro`);
    expect(one.status).toBe(200);
    expect(one.body.run).toMatchObject({ runId: "run-ro", mode: "read_only", destructive: { used: 1, inFlight: [] } });
    expect(one.body.summary).toEqual(list.body.runs.find((r: { runId: string }) => r.runId === "run-ro"));
    expect(one.body.mutations).toEqual([expect.objectContaining({ tool: "drop", effect: "destructive", args: { t: 1 }, status: "done", undo: "none" })]);
  });

  it("bad input: unknown run 404, bad filters 400, unknown endpoint 404, wrong method 405", async () => {
    const { url } = await setup();
    const unknown = await call(`${url}/api/runs/nope`);
    expect(unknown).toMatchObject({ status: 404, body: { error: { status: 404, message: 'no run "nope" in the store' } } });
    expect((await call(`${url}/api/runs?status=sleeping`)).body.error.message).toMatch(/\?status must be one of running, ended/);
    expect((await call(`${url}/api/runs?status=sleeping`)).status).toBe(400);
    expect((await call(`${url}/api/runs?limit=0`)).status).toBe(400);
    expect((await call(`${url}/api/runs?limit=abc`)).status).toBe(400);
    expect((await call(`${url}/api/nothing`)).status).toBe(404);
    const wrong = await call(`${url}/api/runs`, "DELETE");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
    expect((await call(`${url}/api/runs/%E0%A4%A`)).status).toBe(400);
  });

  it("POST /api/runs/:id/stop stops a run in another process before its next call; a reason is required", async () => {
    const { agent, url } = await setup();
    const run = agent.startRun({ agent: "a", runId: "run-stop" });
    expect(kindOf(await run.call(lookup, {}))).toBe("ok");
    expect((await call(`${url}/api/runs/run-stop/stop`, "POST", {})).status).toBe(400);
    expect((await call(`${url}/api/runs/run-stop/stop`, "POST", { reason: 42 })).status).toBe(400);
    expect((await call(`${url}/api/runs/nope/stop`, "POST", { reason: "x" })).status).toBe(404);
    const stopped = await call(`${url}/api/runs/run-stop/stop`, "POST", { reason: "it is deleting things" });
    expect(stopped).toMatchObject({ status: 200, body: { runId: "run-stop", stopRequested: true } });
    const o = await run.call(note, { n: 1 });
    expect(kindOf(o)).toBe("run_halted");
    if (!o.ok) expect(o.failure.message).toContain("it is deleting things");
  });
});

describe("runs: live budgets and reviews", () => {
  const drop = defineTool({ name: "drop", effect: "destructive", execute: async (a: { t: number }) => `dropped ${a.t}`, verify: async () => true });

  it("steps and the destructive budget are live while the run goes on; max is the server runtime's policy", async () => {
    const { agent, store } = await setup();
    // A server whose runtime has the agents' policy shows their max.
    const ops = createRuntime({ store, policy: { destructive: { maxPerRun: 2 } } });
    const server = await startServer({ runtime: ops, port: 0 });
    open.push(async () => {
      await server.close();
      await ops.close();
    });
    const run = agent.startRun({ agent: "db-bot", runId: "run-live", policy: { destructive: { maxPerRun: 2 } } });
    const runs = async () => (await call(`${server.url}/api/runs`)).body.runs[0];
    await run.call(lookup, {});
    // A read's step reaches the store with the run's next commit, or within READ_FRESH_MS.
    await expect.poll(runs, { timeout: 3_000 }).toMatchObject({ runId: "run-live", steps: 1, destructive: { used: 0, inFlight: 0, max: 2 } });
    // While a destructive call is in flight, its slot shows.
    let finish!: () => void;
    const slow = defineTool({ name: "slow_drop", effect: "destructive", execute: () => new Promise<string>((r) => (finish = () => r("dropped"))), verify: async () => true });
    const pending = run.call(slow, { t: 1 });
    try {
      await expect.poll(runs).toMatchObject({ steps: 2, destructive: { used: 0, inFlight: 1, max: 2 } });
    } finally {
      finish();
    }
    expect(kindOf(await pending)).toBe("ok");
    expect(await runs()).toMatchObject({ steps: 2, mode: "normal", destructive: { used: 1, inFlight: 0 } });
    expect(kindOf(await run.call(drop, { t: 2 }))).toBe("ok");
    expect(kindOf(await run.call(drop, { t: 3 }))).toBe("destructive_budget_exceeded");
    expect(await runs()).toMatchObject({ mode: "read_only", narrowedBy: "budget", destructive: { used: 2, inFlight: 0, max: 2 }, confidence: expect.any(Number) });
  });

  it("POST /api/runs/:id/review renews the budget of a run that spent it: the agent's live run may change things again", async () => {
    const { agent, url, store } = await setup();
    const run = agent.startRun({ agent: "db-bot", runId: "run-rv", policy: { destructive: { maxPerRun: 1 }, maxConsecutiveFailures: 5 } });
    expect(kindOf(await run.call(drop, { t: 1 }))).toBe("ok");
    expect(kindOf(await run.call(drop, { t: 2 }))).toBe("destructive_budget_exceeded");
    expect(run.mode).toBe("read_only");

    // Who is required without tokens; a note must be text; an unknown run is 404. None of them reviews.
    expect(await call(`${url}/api/runs/run-rv/review`, "POST", {})).toMatchObject({ status: 400, body: { error: { message: 'the body needs "by": a non-empty text' } } });
    expect((await call(`${url}/api/runs/run-rv/review`, "POST", { by: "dana", note: 7 })).status).toBe(400);
    expect(await call(`${url}/api/runs/nope/review`, "POST", { by: "dana" })).toMatchObject({ status: 404, body: { error: { message: 'no run "nope" in the store' } } });
    expect((await call(`${url}/api/runs/run-rv/review`, "GET")).status).toBe(405);
    const ops = createRuntime({ store });
    await ops.ready();
    expect(await ops.store.runs.get("run-rv")).toMatchObject({ mode: "read_only", reviews: [], destructive: { used: 1 } });

    const reviewed = await call(`${url}/api/runs/run-rv/review`, "POST", { by: "dana", note: "checked the drop" });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body.run).toMatchObject({ runId: "run-rv", mode: "normal", destructive: { used: 0, inFlight: 0, max: 3 }, reviews: 1, lastReview: { by: "dana", note: "checked the drop" } });
    expect(reviewed.body.run.narrowedBy).toBeUndefined();
    expect(await ops.store.runs.get("run-rv")).toMatchObject({ mode: "normal", reviews: [{ by: "dana", note: "checked the drop" }], destructive: { used: 0 } });
    await ops.close();

    // The agent's run object, in its own runtime, learns of the review at its next call.
    expect(await run.call(drop, { t: 2 })).toMatchObject({ ok: true, value: "dropped 2" });
    expect(run.mode).toBe("normal");
    expect(kindOf(await run.call(drop, { t: 3 }))).toBe("destructive_budget_exceeded");
  });
});

describe("rollback", () => {
  async function mutated(agent: Runtime) {
    const run = agent.startRun({ agent: "billing", runId: "run-rb" });
    expect(kindOf(await run.call(refund, { order: "o-1" }))).toBe("ok");
    expect(kindOf(await run.call(note, { n: 1 }))).toBe("ok");
    return run;
  }

  it("without --tools: nothing is run, and the report says which steps cannot be undone here, and why", async () => {
    const { agent, url } = await setup();
    await mutated(agent);
    const before = await call(`${url}/api/runs/run-rb`);
    expect(before.body.mutations.map((m: { tool: string; undo: string }) => [m.tool, m.undo])).toEqual([
      ["refund", "needs_tools"],
      ["note", "none"],
    ]);
    const r = await call(`${url}/api/runs/run-rb/rollback`, "POST");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ runId: "run-rb", complete: false, undone: [], hint: expect.stringContaining("--tools") });
    expect(r.body.notUndone.map((s: { tool: string; status: string }) => [s.tool, s.status])).toEqual([
      ["note", "not_compensable"],
      ["refund", "not_compensable"],
    ]);
    expect(undone).not.toContain("o-1");
    expect((await call(`${url}/api/runs/nope/rollback`, "POST")).status).toBe(404);
  });

  it("with the agent's tools: compensations run newest first, once; the run is halted", async () => {
    const { agent, url } = await setup({ tools: [refund, note] });
    const run = await mutated(agent);
    expect((await call(`${url}/api/runs/run-rb`)).body.mutations[0].undo).toBe("ready");
    const r = await call(`${url}/api/runs/run-rb/rollback`, "POST", {});
    expect(r.status).toBe(200);
    expect(r.body.undone.map((s: { tool: string }) => s.tool)).toEqual(["refund"]);
    expect(r.body.notUndone.map((s: { tool: string }) => s.tool)).toEqual(["note"]);
    expect(r.body.hint).toBeUndefined();
    expect(undone.filter((o) => o === "o-1")).toHaveLength(1);
    const again = await call(`${url}/api/runs/run-rb/rollback`, "POST", {});
    expect(again.body.steps.find((s: { tool: string }) => s.tool === "refund").status).toBe("already_compensated");
    expect(undone.filter((o) => o === "o-1")).toHaveLength(1);
    expect(kindOf(await run.call(note, { n: 2 }))).toBe("run_halted");
  });

  it("a call of the run still in flight after waitMs is reported in flight, not as no changes", async () => {
    const { agent, url } = await setup({ tools: [refund, note] });
    const run = agent.startRun({ agent: "billing", runId: "run-busy" });
    await run.ready();
    const now = Date.now();
    await agent.store.idempotency.claim({ scope: "refund", key: "o-9", fingerprint: "f", owner: "call-9", runId: "run-busy", now, leaseMs: 60_000, retentionMs: 60_000 });
    expect((await call(`${url}/api/runs/run-busy/rollback`, "POST", { waitMs: -1 })).status).toBe(400);
    const r = await call(`${url}/api/runs/run-busy/rollback`, "POST", { waitMs: 50 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ complete: false, steps: [], inFlight: [{ tool: "refund", key: "o-9", callId: "call-9", state: "in_flight", since: now }] });
    expect(r.body.summary).toContain("NOT settled");
  });
});

describe("approvals", () => {
  it("list by status, approve with who, repeat is a no-op, the other way is 409; the agent's repeat then runs", async () => {
    const { agent, url } = await setup();
    const run = agent.startRun({ agent: "db-bot", runId: "run-ap" });
    expect(kindOf(await run.call(dropTable, { table: "prod_users" }))).toBe("approval_required");

    const pending = await call(`${url}/api/approvals?status=pending`);
    expect(pending.status).toBe(200);
    expect(pending.body.approvals).toEqual([expect.objectContaining({ runId: "run-ap", tool: "drop_table", args: { table: "prod_users" }, status: "pending" })]);
    expect(pending.body.approvals[0].fingerprint).toBeUndefined();
    const id = pending.body.approvals[0].id as string;
    expect((await call(`${url}/api/approvals?status=approved`)).body.approvals).toEqual([]);
    expect((await call(`${url}/api/approvals?status=maybe`)).status).toBe(400);
    expect((await call(`${url}/api/approvals/${id}`)).body.approval.status).toBe("pending");

    // Bad bodies change nothing.
    expect((await call(`${url}/api/approvals/${id}/approve`, "POST", {})).body.error.message).toMatch(/"by"/);
    expect((await call(`${url}/api/approvals/${id}/approve`, "POST", { by: "  " })).status).toBe(400);
    expect((await call(`${url}/api/approvals/${id}/approve`, "POST", "{not json")).status).toBe(400);
    expect((await call(`${url}/api/approvals/${id}/approve`, "POST", "[1]")).status).toBe(400);
    expect((await call(`${url}/api/approvals/${id}/approve`, "POST", '{"by":"ada"}', { "content-type": "text/plain" })).status).toBe(415);
    expect((await call(`${url}/api/approvals/nope/approve`, "POST", { by: "ada" })).status).toBe(404);
    expect((await call(`${url}/api/approvals/nope`)).status).toBe(404);
    expect((await call(`${url}/api/approvals/${id}`)).body.approval.status).toBe("pending");

    const ok = await call(`${url}/api/approvals/${id}/approve`, "POST", { by: "ada" });
    expect(ok).toMatchObject({ status: 200, body: { approval: { id, status: "approved", by: "ada", decidedAt: expect.any(Number) } } });
    expect((await call(`${url}/api/approvals/${id}/approve`, "POST", { by: "bob" })).body.approval.by).toBe("ada");
    const other = await call(`${url}/api/approvals/${id}/deny`, "POST", { by: "bob", reason: "no" });
    expect(other.status).toBe(409);
    expect(other.body.error.message).toMatch(/already approved by ada/);

    expect(await run.call(dropTable, { table: "prod_users" })).toMatchObject({ ok: true, value: "dropped prod_users" });
  });

  it("deny needs who and why; the agent's repeat is approval_denied with the reason", async () => {
    const { agent, url } = await setup();
    const run = agent.startRun({ agent: "db-bot", runId: "run-deny" });
    await run.call(dropTable, { table: "prod_orders" });
    const [a] = (await call(`${url}/api/approvals?status=pending`)).body.approvals;
    expect((await call(`${url}/api/approvals/${a.id}/deny`, "POST", { by: "ada" })).body.error.message).toMatch(/"reason"/);
    const denied = await call(`${url}/api/approvals/${a.id}/deny`, "POST", { by: "ada", reason: "code freeze" });
    expect(denied).toMatchObject({ status: 200, body: { approval: { status: "denied", by: "ada", reason: "code freeze" } } });
    expect((await call(`${url}/api/approvals/${a.id}/approve`, "POST", { by: "bob" })).status).toBe(409);
    const o = await run.call(dropTable, { table: "prod_orders" });
    expect(kindOf(o)).toBe("approval_denied");
  });
});

describe("freezes", () => {
  it("POST declares one that refuses the agent's writes (reads go on); DELETE lifts it; bad windows are 400", async () => {
    const { agent, url } = await setup();
    const run = agent.startRun({ agent: "a", runId: "run-fz", policy: { maxConsecutiveFailures: 10 } });
    expect((await call(`${url}/api/freezes`)).body).toEqual({ frozen: false, freezes: [] });

    expect((await call(`${url}/api/freezes`, "POST", {})).status).toBe(400);
    expect((await call(`${url}/api/freezes`, "POST", { reason: "x", to: "yesterday-ish" })).status).toBe(400);
    const zoneless = await call(`${url}/api/freezes`, "POST", { reason: "x", to: "2030-01-01T09:00" });
    expect(zoneless).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/"to": "2030-01-01T09:00" has no time zone/) } } });
    const backwards = await call(`${url}/api/freezes`, "POST", { reason: "x", from: "2030-01-02T00:00:00Z", to: "2030-01-01T00:00:00Z" });
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.message).toMatch(/before it starts/);
    expect((await call(`${url}/api/freezes`)).body.freezes).toEqual([]);

    const declared = await call(`${url}/api/freezes`, "POST", { reason: "release in progress", by: "ada" });
    expect(declared).toMatchObject({ status: 201, body: { freeze: { id: expect.any(String), reason: "release in progress", by: "ada", inForce: true } } });
    const id = declared.body.freeze.id as string;
    expect((await call(`${url}/api/freezes`)).body).toMatchObject({ frozen: true, freezes: [{ id, inForce: true }] });

    const o = await run.call(note, { n: 1 });
    expect(kindOf(o)).toBe("frozen");
    if (!o.ok) expect(o.failure.message).toContain("release in progress");
    expect(kindOf(await run.call(lookup, {}))).toBe("ok");

    expect((await call(`${url}/api/freezes`, "DELETE")).status).toBe(400);
    expect((await call(`${url}/api/freezes/nope`, "DELETE")).status).toBe(404);
    expect(await call(`${url}/api/freezes/${id}`, "DELETE")).toMatchObject({ status: 200, body: { lifted: 1 } });
    expect((await call(`${url}/api/freezes`)).body.frozen).toBe(false);
    expect(kindOf(await run.call(note, { n: 2 }))).toBe("ok");

    await call(`${url}/api/freezes`, "POST", { reason: "a" });
    await call(`${url}/api/freezes`, "POST", { reason: "b", to: Date.now() + 60_000 });
    expect(await call(`${url}/api/freezes?all=true`, "DELETE")).toMatchObject({ status: 200, body: { lifted: 2 } });
  });
});

describe("breakers, handoffs, metrics", () => {
  it("an open breaker, a handoff and a pending approval show in the API and as Prometheus gauges", async () => {
    const { agent, url } = await setup();
    const flaky = defineTool({
      name: "flaky_api",
      effect: "read",
      retry: false,
      breaker: { windowSize: 4, failureRate: 0.5, minCalls: 2, halfOpenAfterMs: 60_000 },
      execute: async () => {
        throw new Error("503 from upstream");
      },
    });
    for (let n = 0; n < 3; n++) await agent.startRun({ agent: "a", runId: `run-br-${n}` }).call(flaky, { n });
    const handed = agent.startRun({ agent: "support-bot", runId: "run-ho" });
    await handed.handOff("the customer asks for a refund outside policy");
    await agent.startRun({ agent: "db-bot", runId: "run-ap" }).call(dropTable, { table: "t" });

    // Breaker states reach the store asynchronously.
    let breakers: Array<{ tool: string; state: string }> = [];
    for (let i = 0; i < 50 && breakers.length === 0; i++) {
      breakers = (await call(`${url}/api/breakers`)).body.breakers;
      if (breakers.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(breakers).toEqual([expect.objectContaining({ tool: "flaky_api", state: "open" })]);
    const handoffs = await call(`${url}/api/handoffs`);
    expect(handoffs.body.handoffs).toEqual([expect.objectContaining({ runId: "run-ho", agent: "support-bot", reason: "the customer asks for a refund outside policy", status: "open" })]);
    expect((await call(`${url}/api/handoffs?status=gone`)).status).toBe(400);

    const m = await call(`${url}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(m.body).toContain('bulwark_approvals{status="pending"} 1');
    expect(m.body).toContain("bulwark_breakers_open 1");
    expect(m.body).toContain('bulwark_store_breaker_state{tool="flaky_api",state="open"} 1');
    expect(m.body).toContain('bulwark_store_breaker_state{tool="flaky_api",state="closed"} 0');
    expect(m.body).toMatch(/bulwark_approval_pending_age_seconds \d/);
    expect(m.body).toMatch(/bulwark_alerts\{state="firing",kind="run_handed_off"\} 1/);
    expect(m.body).toContain('bulwark_handoffs{status="open"} 1');
    expect(m.body).toMatch(/bulwark_runs\{status="running",mode="handed_off"\} 1/);
    expect(m.body).toContain("bulwark_freezes_in_force 0");
  });
});

describe("the server's boundary", () => {
  it("serves the dashboard, nothing outside web/, and refuses other host names and cross-origin changes", async () => {
    const { url } = await setup();
    const page = await call(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.body).toContain("Approval queue");
    expect((await call(`${url}/app.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await raw(url, { path: "/../package.json" })).status).toBe(404);
    expect((await raw(url, { path: "/%2e%2e/package.json" })).status).toBe(404);
    expect((await call(`${url}/`, "POST", {})).status).toBe(405);

    const rebound = await raw(url, { path: "/api/runs", headers: { host: "attacker.example:7070" } });
    expect(rebound.status).toBe(403);
    const body = JSON.stringify({ reason: "x" });
    const crossSite = await raw(url, { method: "POST", path: "/api/freezes", headers: { host: new URL(url).host, origin: "https://attacker.example", "content-type": "application/json" }, body });
    expect(crossSite.status).toBe(403);
    expect((await call(`${url}/api/freezes`)).body.freezes).toEqual([]);
    const big = await call(`${url}/api/freezes`, "POST", { reason: "x".repeat(70_000) });
    expect(big.status).toBe(413);
  });
});

describe("bulwark serve, the command", () => {
  it("binds 127.0.0.1 by default, prints where, answers, and stops on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-serve-cli-"));
    dirs.push(dir);
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
    const store = `sqlite:${join(dir, "b.db")}`;
    const made = createRuntime({ store }); // the agents' store: serve does not make one
    await made.ready();
    await made.close();
    const child = spawn(process.execPath, ["--import", tsx, main, "serve", "--port", "0", "--store", store], { cwd: dir });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect((await call(`${url}/api/runs`)).body).toEqual({ runs: [] });
      const exited = new Promise<number | null>((r) => child.once("exit", r));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("a bad port is a usage error", async () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
    const code = await new Promise<number | null>((resolve) => spawn(process.execPath, ["--import", tsx, main, "serve", "--port", "http"], { stdio: "ignore" }).once("exit", resolve));
    expect(code).not.toBe(0);
  });
});

describe("alerts", () => {
  it("lists alerts raised by another process, filters by state, acknowledges with who; bad input changes nothing", async () => {
    const { agent, url } = await setup();
    await agent.startRun({ agent: "support", runId: "run-al" }).handOff("the customer asked for a person");
    await agent.alerts.flush();
    const listed = await call(`${url}/api/alerts`);
    expect(listed.status).toBe(200);
    expect(listed.body.alerts).toMatchObject([{ kind: "run_handed_off", runId: "run-al", state: "firing", count: 1 }]);
    expect(listed.body.sinks).toEqual([expect.objectContaining({ sink: "opentelemetry", failed: 0 })]);
    const id = listed.body.alerts[0].id as string;
    expect((await call(`${url}/api/alerts?state=burning`)).status).toBe(400);
    expect((await call(`${url}/api/alerts/${id}/ack`, "POST", {})).status).toBe(400);
    expect((await call(`${url}/api/alerts/nope/ack`, "POST", { by: "ada" })).status).toBe(404);
    expect((await call(`${url}/api/alerts?state=firing`)).body.alerts).toHaveLength(1);
    const ack = await call(`${url}/api/alerts/${id}/ack`, "POST", { by: "ada" });
    expect(ack).toMatchObject({ status: 200, body: { alert: { id, state: "acknowledged", acknowledgedBy: "ada" } } });
    expect((await call(`${url}/api/alerts?state=firing`)).body.alerts).toEqual([]);
    expect((await call(`${url}/api/alerts?state=acknowledged`)).body.alerts).toMatchObject([{ id }]);
  });
});

describe("shadow decisions", () => {
  it("GET /api/shadow lists what a shadow-mode agent would have had refused, newest first, with sums per tool and kind", async () => {
    const { store, url } = await setup();
    const shadow = createRuntime({ store, enforce: false, policy: { freeze: true } });
    open.push(() => shadow.close());
    const run = shadow.startRun({ agent: "ops", runId: "run-sh" });
    expect(await run.call(note, { text: "a", token: "sk-live-abcdefghijklmnopqrstuvwx" })).toMatchObject({ ok: true, value: "ok" });
    expect(await run.call(note, { text: "b" })).toMatchObject({ ok: true });
    const r = await call(`${url}/api/shadow`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(2);
    expect(r.body.decisions.map((d: { args: { text: string } }) => d.args.text)).toEqual(["b", "a"]);
    expect(JSON.stringify(r.body)).not.toContain("sk-live-abcdefghijklmnopqrstuvwx");
    expect(r.body.sums).toEqual([expect.objectContaining({ tool: "note", kind: "frozen", calls: 2, runs: 1, stages: ["admission"] })]);
    expect((await call(`${url}/api/shadow?since=${Date.now() + 60_000}`)).body.total).toBe(0);
    expect((await call(`${url}/api/shadow?run=nope`)).body.decisions).toEqual([]);
    const bad = await call(`${url}/api/shadow?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("not a time");
  });
});
