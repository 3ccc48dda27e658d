/**
 * The `bulwark` command, run as a user runs it: a real child process (the sources through
 * tsx), in a fresh directory, so that its default store `.bulwark/bulwark.db` lands there.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime } from "../src/index.js";

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
function bulwark(args: string[], cwd = fresh()): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", tsx, main, ...args], { cwd, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
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

describe("bulwark approvals", () => {
  it("list on an empty store says so, and creates the store under .bulwark/", async () => {
    const r = await bulwark(["approvals", "list"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout.trim()).toBe("no approval requests");
    expect(existsSync(join(r.cwd, ".bulwark", "bulwark.db"))).toBe(true);
    const json = await bulwark(["approvals", "list", "--json"], r.cwd);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it("approve of an unknown id fails with a clear message", async () => {
    const r = await bulwark(["approvals", "approve", "appr_nope"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no approval request with id "appr_nope"');
    expect(r.stdout).toBe("");
  });
});

describe("bulwark rollback", () => {
  it("an unknown run id: a clear message, non-zero exit, nothing done", async () => {
    const r = await bulwark(["rollback", "run_nope"]);
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
});
