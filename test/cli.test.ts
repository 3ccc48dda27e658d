/**
 * The `bulwark` command, run as a user runs it: a real child process (the sources through
 * tsx), in a fresh directory, so that its default store `.bulwark/bulwark.db` lands there.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime, defineTool, type Runtime } from "../src/index.js";
import { scenarios } from "../src/chaos/index.js";

const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
// By its path: `--import tsx` would be resolved from the temporary directory, where it is not installed.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  cwd: string;
}

/** Run `bulwark …` in `cwd` (a new temporary directory unless given). */
function bulwark(args: string[], cwd = fresh(), env: Record<string, string | undefined> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", tsx, main, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, cwd });
    });
  });
}

function fresh() {
  const d = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
  dirs.push(d);
  return d;
}

describe("bulwark chaos", () => {
  it("--json prints exactly one JSON object with the report, and exits 0", async () => {
    const r = await bulwark(["chaos", "--json", "--runs", "3", "--scenario", "payment-lost-response"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!);
    expect(report).toMatchObject({
      runs: 3,
      scenarios: [
        {
          name: "payment-lost-response",
          runs: 3,
          baseline: { incidents: expect.any(Number) },
          bulwark: { incidents: 0, falseHalts: expect.any(Number), addedLatencyMsPerCall: expect.any(Number) },
        },
      ],
      passed: true,
    });
    expect(report.scenarios[0].baseline.incidents).toBeGreaterThan(0);
  }, 20_000);

  it("an unknown scenario: non-zero exit, the name and the known ones, nothing run", async () => {
    const r = await bulwark(["chaos", "--scenario", "no-such-thing"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown scenario "no-such-thing"');
    expect(r.stderr).toContain("payment-lost-response");
    expect(r.stdout).toBe("");
  });
});

/** A folder whose default store exists (made by an agent's runtime), with what `setup` leaves in it. */
async function withStore(setup: (rt: Runtime) => Promise<void> = async () => {}): Promise<string> {
  const cwd = fresh();
  const rt = createRuntime({ store: `sqlite:${join(cwd, ".bulwark", "bulwark.db")}` });
  await rt.ready();
  await setup(rt);
  await rt.close();
  return cwd;
}

describe("commands that read state, in a folder with no store", () => {
  it.each([["approvals"], ["approvals", "list", "--json"], ["approvals", "approve", "appr_1", "--by", "ada"], ["approvals", "deny", "appr_1", "--reason", "no"], ["rollback", "run_1"], ["runs"], ["runs", "review", "run_1", "--by", "ada"], ["serve", "--port", "0"]])(
    "bulwark %s says where it looked and creates nothing",
    async (...args) => {
      const r = await bulwark(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/no Bulwark store at .*\.bulwark\/bulwark\.db: no agent has used it yet, or this is not the folder the agents run in; give the store with --store/);
      expect(r.stdout).toBe("");
      expect(existsSync(join(r.cwd, ".bulwark"))).toBe(false);
    },
  );

  it("--store memory is refused: it would hold nothing another process wrote", async () => {
    const r = await bulwark(["approvals", "--store", "memory"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--store memory holds nothing another process wrote");
  });
});

describe("bulwark demo", () => {
  it("counts runs with an incident, shows no negative latency, explains stale_data, and shows the code it runs", { timeout: 120_000 }, async () => {
    const r = await bulwark(["demo", "--runs", "2"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/runs with incident bare/);
    expect(r.stdout).toContain("A run counts once however many incidents it had");
    const rows = r.stdout.split("\n").filter((l) => /^\s+[a-z-]+\s+2\s/.test(l));
    expect(rows).toHaveLength(scenarios.length);
    for (const row of rows) expect(row).toMatch(/\s(\d+\.\d{3}|≈0)$/);
    expect(r.stdout.replace(/\s+/g, " ")).toMatch(/fails as stale_data, which tells the agent the value is too old/);
    expect(r.stdout).toContain('const pay = defineTool({ name: "pay_invoice", effect: "write",');
    expect(r.stdout.match(/The code, in short/g)).toHaveLength(6);
    // The drift story: the runtime's monitor raises its alert, and the demo says where to list it.
    expect(r.stdout).toMatch(/decision \d+: refund-agent-[0-9a-f]{8}: refund decision drifted: the latest 200 observations/);
    expect(r.stdout).toMatch(/npx bulwark alerts --store sqlite:/);
    expect(r.stdout).toMatch(/→ in this run: no incident/);
  });
});

describe("bulwark --version", () => {
  it("prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"));
    for (const flag of ["--version", "-v"]) expect(await bulwark([flag])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});

describe("bulwark bench", () => {
  it("measures on a temporary store, never in the agents' default store, unless --store says so", async () => {
    const r = await bulwark(["bench", "--calls", "20", "--samples", "1", "--json"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(r.stdout).microsecondsPerCall).toMatchObject({ read: expect.any(Number), write: expect.any(Number) });
    expect(existsSync(join(r.cwd, ".bulwark"))).toBe(false);
    const text = await bulwark(["bench", "--calls", "20", "--samples", "1"], r.cwd);
    expect(text.stdout).toContain("Per-call cost on a temporary SQLite file");
    expect(existsSync(join(r.cwd, ".bulwark"))).toBe(false);
  });
});

describe("bulwark approvals", () => {
  it("list on an empty store says so", async () => {
    const cwd = await withStore();
    const r = await bulwark(["approvals", "list"], cwd);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout.trim()).toBe("no approval requests");
    const json = await bulwark(["approvals", "list", "--json"], cwd);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it("approve without --by records who is logged in (not $USER, not a made-up name); an empty name is refused", async () => {
    const drop = defineTool({ name: "drop_table", effect: "destructive", approval: "always", execute: async () => "dropped" });
    let id = "";
    const cwd = await withStore(async (rt) => {
      await rt.startRun({ agent: "db-bot" }).call(drop, { table: "t" });
      id = (await rt.approvals.list())[0]!.id;
    });
    const empty = await bulwark(["approvals", "approve", id, "--by", " "], cwd);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("is empty: say who decides");
    const r = await bulwark(["approvals", "approve", id], cwd, { USER: "mallory", BULWARK_USER: undefined });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toContain(`approved by ${userInfo().username}`);
    expect(r.stdout).not.toMatch(/by (cli|mallory)/);
  });

  it("approve of an unknown id fails with a clear message", async () => {
    const r = await bulwark(["approvals", "approve", "appr_nope", "--by", "ada"], await withStore());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no approval request with id "appr_nope"');
    expect(r.stdout).toBe("");
  });
});

describe("bulwark rollback", () => {
  it("an unknown run id: a clear message, non-zero exit, nothing done", async () => {
    const r = await bulwark(["rollback", "run_nope"], await withStore());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no run "run_nope" in the store sqlite:.bulwark/bulwark.db');
    expect(r.stdout).toBe("");
  });

  it("a known run that changed nothing: nothing to roll back, exit 0", async () => {
    const cwd = fresh();
    const rt = createRuntime({ store: `sqlite:${join(cwd, ".bulwark", "bulwark.db")}` });
    const run = rt.startRun({ agent: "cli-test", runId: "run_quiet" });
    await run.end();
    await rt.close();
    const r = await bulwark(["rollback", "run_quiet"], cwd);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toContain("run_quiet recorded no changes: nothing to roll back");
  });

  it("a call of the run still in flight after --wait-ms: listed as not undone, exit 1", async () => {
    const cwd = fresh();
    const rt = createRuntime({ store: `sqlite:${join(cwd, ".bulwark", "bulwark.db")}` });
    await rt.startRun({ agent: "cli-test", runId: "run_busy" }).ready();
    await rt.store.idempotency.claim({ scope: "refund", key: "o-9", fingerprint: "f", owner: "call-9", runId: "run_busy", now: Date.now(), leaseMs: 60_000, retentionMs: 60_000 });
    await rt.close();
    const r = await bulwark(["rollback", "run_busy", "--wait-ms", "50"], cwd);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("1 call NOT settled");
    expect(r.stdout).toContain("refund call call-9 (key o-9): in flight, NOT undone");
    expect((await bulwark(["rollback", "run_busy", "--wait-ms", "soon"], cwd)).stderr).toContain("--wait-ms must be");
  });
});

describe("bulwark runs", () => {
  const drop = defineTool({ name: "drop_table", effect: "destructive", execute: async (a: { table: string }) => `dropped ${a.table}`, verify: async () => true });
  const policy = { destructive: { maxPerRun: 2 }, maxConsecutiveFailures: 5 };

  /** A store where run-spent has used its destructive budget (2) and reads only, and run-quiet ended without changes. */
  async function spentStore(): Promise<{ cwd: string; store: string }> {
    const cwd = fresh();
    const store = `sqlite:${join(cwd, "agents.db")}`;
    const rt = createRuntime({ store, policy });
    const run = rt.startRun({ agent: "db-bot", runId: "run-spent" });
    for (const table of ["a", "b"]) expect((await run.call(drop, { table })).ok).toBe(true);
    const refused = await run.call(drop, { table: "c" });
    expect(refused.ok ? "ok" : refused.failure.kind).toBe("destructive_budget_exceeded");
    await rt.startRun({ agent: "support-bot", runId: "run-quiet" }).end();
    await rt.close();
    return { cwd, store };
  }

  it("--json shows each run's live steps, destructive budget and mode; review renews the budget, and the run may change things again", async () => {
    const { cwd, store } = await spentStore();
    const before = await bulwark(["runs", "--store", store, "--json"], cwd);
    expect(before).toMatchObject({ code: 0, stderr: "" });
    const spent = JSON.parse(before.stdout).runs.find((r: { runId: string }) => r.runId === "run-spent");
    expect(spent).toMatchObject({
      agent: "db-bot",
      status: "running",
      mode: "read_only",
      narrowedBy: "budget",
      reason: expect.stringContaining("destructive budget (2) is used up"),
      steps: 2,
      destructive: { used: 2, inFlight: 0 },
      reviews: 0,
    });
    const text = await bulwark(["runs", "--store", store, "--status", "running"], cwd);
    expect(text).toMatchObject({ code: 0, stderr: "" });
    expect(text.stdout.trim().split("\n")).toEqual([expect.stringMatching(/^run-spent +db-bot +running +read_only +steps 2 +destructive 2 +confidence 1\.00 +its destructive budget/)]);

    const review = await bulwark(["runs", "review", "run-spent", "--store", store, "--by", "dana", "--note", "the two drops were asked for"], cwd);
    expect(review).toMatchObject({ code: 0, stderr: "" });
    expect(review.stdout).toContain("reviewed by dana: the destructive budget of run run-spent is renewed (2 used before the review)");
    expect(review.stdout).toContain("mode read_only -> normal");

    const after = JSON.parse((await bulwark(["runs", "--store", store, "--json"], cwd)).stdout).runs.find((r: { runId: string }) => r.runId === "run-spent");
    expect(after).toMatchObject({ mode: "normal", steps: 2, destructive: { used: 0, inFlight: 0 }, reviews: 1, lastReview: { by: "dana", note: "the two drops were asked for" } });
    expect(after.reason).toBeUndefined();
    expect(after.narrowedBy).toBeUndefined();

    // The agent, resuming the run, may make its changes again: within the renewed budget.
    const rt = createRuntime({ store, policy });
    const run = rt.startRun({ agent: "db-bot", runId: "run-spent" });
    const again = await run.call(drop, { table: "c" });
    expect(again).toMatchObject({ ok: true, value: "dropped c" });
    expect(run.mode).toBe("normal");
    await rt.close();
  }, 60_000);

  it("show prints the run's timeline: every call with its outcome, the stage that refused it and why; --json the same as data; an unknown run is an error", async () => {
    const { cwd, store } = await spentStore();
    const text = await bulwark(["runs", "show", "run-spent", "--store", store], cwd);
    expect(text).toMatchObject({ code: 0, stderr: "" });
    const lines = text.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^run-spent +db-bot +running +read_only/);
    expect(lines[1]).toBe("3 calls");
    expect(lines.slice(2)).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z +drop_table +ok +\d+ ms +×1 +confidence 1\.00$/),
      expect.stringMatching(/drop_table +ok /),
      expect.stringMatching(/drop_table +destructive_budget_exceeded +\d+ ms +×0 +confidence \d\.\d\d +admission: drop_table was not run: .*destructive changes/),
    ]);
    const json = JSON.parse((await bulwark(["runs", "show", "run-spent", "--store", store, "--json"], cwd)).stdout);
    expect(json.summary).toMatchObject({ runId: "run-spent", mode: "read_only" });
    expect(json.journal).toBe(true);
    expect(json.calls.map((c: { ok: boolean; failure?: { kind: string; stage: string } }) => (c.ok ? "ok" : `${c.failure!.kind} at ${c.failure!.stage}`))).toEqual(["ok", "ok", "destructive_budget_exceeded at admission"]);
    const unknown = await bulwark(["runs", "show", "run-nope", "--store", store], cwd);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain(`no run "run-nope" in the store ${store}; check the id (bulwark runs lists them)`);
  }, 60_000);

  it("bad input: an unknown run, a bad --status or --limit, an empty --by or --note; each says what is wrong, and nothing is reviewed", async () => {
    const { cwd, store } = await spentStore();
    const [unknown, status, limit, by, note] = await Promise.all([
      bulwark(["runs", "review", "run-nope", "--store", store, "--by", "dana"], cwd),
      bulwark(["runs", "--store", store, "--status", "sleeping"], cwd),
      bulwark(["runs", "--store", store, "--limit", "0"], cwd),
      bulwark(["runs", "review", "run-spent", "--store", store, "--by", " "], cwd),
      bulwark(["runs", "review", "run-spent", "--store", store, "--by", "dana", "--note", ""], cwd),
    ]);
    for (const r of [unknown, status, limit, by, note]) {
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
    }
    expect(unknown.stderr).toContain(`no run "run-nope" in the store ${store}; check the id (bulwark runs lists them)`);
    expect(status.stderr).toContain('--status must be one of running, ended, not "sleeping"');
    expect(limit.stderr).toMatch(/--limit <n>' argument '0' is invalid. expected a whole number of at least 1/);
    expect(by.stderr).toContain("--by (or BULWARK_USER) is empty");
    expect(note.stderr).toContain("--note is empty");
    const rt = createRuntime({ store });
    await rt.ready();
    expect(await rt.store.runs.get("run-spent")).toMatchObject({ mode: "read_only", destructive: { used: 2 }, reviews: [] });
    expect(await rt.store.runs.get("run-nope")).toBeUndefined();
    await rt.close();
  }, 60_000);
});

describe("bulwark replay", () => {
  const tools = fileURLToPath(new URL("./fixtures/replay-tools.ts", import.meta.url));
  const drop = (table: string) => ({ tool: "drop_table", args: { table }, result: { dropped: table } });
  const lines = [
    JSON.stringify({ runId: "r1", agent: "ops", label: "bad", calls: [drop("a"), drop("b"), drop("c"), drop("d"), drop("e")] }),
    "not json at all",
    JSON.stringify({ runId: "r2", agent: "ops", label: "good", calls: [{ tool: "refund", args: { order: "o", cents: 5 }, error: "payments said 503" }, { tool: "lookup_order", args: { id: "o" }, result: { id: "o", cents: 5 } }] }),
    JSON.stringify({ runId: "r3", agent: "ops", calls: [{ tool: "send_email", args: {}, result: "sent" }] }),
  ];

  function recording(cwd: string) {
    writeFileSync(join(cwd, "runs.jsonl"), lines.join("\n") + "\n");
    return join(cwd, "runs.jsonl");
  }

  it("--json prints one object: per run the enforcing view up to its first refusal, bad lines skipped, exit 0", async () => {
    const cwd = fresh();
    const r = await bulwark(["replay", recording(cwd), "--tools", tools, "--json"], cwd);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const report = JSON.parse(r.stdout);
    expect(report.runs.map((x: { runId: string; calls: unknown[] }) => [x.runId, x.calls])).toEqual([
      ["r1", [drop("a"), drop("b"), drop("c"), drop("d")].map((c, i) => (i < 3 ? { tool: c.tool, refused: false } : { tool: c.tool, refused: true, kind: "destructive_budget_exceeded", stage: "admission", message: expect.any(String) }))],
      ["r2", [{ tool: "refund", refused: false, kind: "tool_error", message: expect.stringContaining("payments said 503") }, { tool: "lookup_order", refused: false }]],
    ]);
    expect(report.skipped).toEqual([
      { where: "line 2", message: expect.stringMatching(/^not JSON/) },
      { where: "line 4", message: expect.stringContaining('"send_email"') },
    ]);
    expect(report.summary).toMatchObject({ runs: 2, skipped: 2, stopped: 1, labels: { bad: { stopped: 1, passed: 0 }, good: { stopped: 0, passed: 1 } } });
    expect(existsSync(join(cwd, ".bulwark"))).toBe(false);
  });

  it("judges by the run policy of --policy, and prints a readable report", async () => {
    const cwd = fresh();
    writeFileSync(join(cwd, "policy.yaml"), "run:\n  destructive:\n    maxPerRun: 1\n");
    const r = await bulwark(["replay", recording(cwd), "--tools", tools, "--policy", join(cwd, "policy.yaml")], cwd);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toContain("Enforcing, Bulwark would have stopped 1 of 2 runs");
    expect(r.stdout).toMatch(/r1 \(line 1, bad\): call 2 of 5, drop_table: destructive_budget_exceeded/);
    expect(r.stdout).toMatch(/bad runs \(1\)\s+1 caught\s+0 missed/);
    expect(r.stdout).toContain("line 2: not JSON");
  });

  it("fails with a clear error for a file that is not there or a module without tools", async () => {
    const cwd = fresh();
    const missing = await bulwark(["replay", join(cwd, "nope.jsonl"), "--tools", tools], cwd);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.jsonl");
    writeFileSync(join(cwd, "empty.mjs"), "export const x = 1;\n");
    const none = await bulwark(["replay", recording(cwd), "--tools", join(cwd, "empty.mjs")], cwd);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("exports no tools");
  });
});

describe("bulwark alerts", () => {
  it("lists the open alerts (text and --json), acks one with who, and refuses a bad --state", async () => {
    const cwd = fresh();
    const store = `sqlite:${join(cwd, "s.db")}`;
    const rt = createRuntime({ store });
    const run = rt.startRun({ agent: "ops", runId: "run-cli" });
    await run.handOff("the customer asked for a person");
    await rt.alerts.flush();
    await rt.close();

    const text = await bulwark(["alerts", "--store", store], cwd);
    expect(text).toMatchObject({ code: 0, stderr: "" });
    expect(text.stdout).toMatch(/firing\s+warning\s+\S+Z\s+run_handed_off: run run-cli \(ops\) was handed to a person: the customer asked for a person/);
    const json = JSON.parse((await bulwark(["alerts", "--store", store, "--json"], cwd)).stdout);
    expect(json.alerts).toMatchObject([{ kind: "run_handed_off", runId: "run-cli", state: "firing" }]);

    const ack = await bulwark(["alerts", "--store", store, "ack", json.alerts[0].id, "--by", "dana"], cwd);
    expect(ack).toMatchObject({ code: 0, stderr: "" });
    expect(ack.stdout).toMatch(/acknowledged\s+warning .* \(acknowledged by dana\)/);

    const bad = await bulwark(["alerts", "--store", store, "--state", "burning"], cwd);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--state must be one of firing, acknowledged, resolved, not "burning"');
    const unknown = await bulwark(["alerts", "--store", store, "ack", "nope"], cwd);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("no alert with id nope");
  }, 60_000);
});
