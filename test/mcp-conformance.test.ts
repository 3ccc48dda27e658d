/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance, every server
 * scenario, pending ones included) against test/fixtures/mcp-everything.ts directly, then
 * the same scenarios through `bulwark proxy` serving streamable HTTP in front of it: every
 * check that passes directly must pass through the proxy. The suite needs Node 22 or
 * later (`bash .ci/node.sh 22` installs one from the npm registry); without one the test
 * is skipped, except in CI (CI=true), where it fails.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpProxy, type McpProxyServer } from "bulwark/mcp";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);

/** A Node of major 22 or later: this one, or the one .ci/node.sh installs. */
function node22(): string | undefined {
  if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
  const r = spawnSync("bash", [join(root, ".ci/node.sh"), "22"], { encoding: "utf8", timeout: 300_000 });
  const path = r.stdout?.trim();
  return r.status === 0 && path && existsSync(path) ? path : undefined;
}

function conformanceCli(): string | undefined {
  try {
    return join(require.resolve("@modelcontextprotocol/conformance/package.json"), "..", "dist", "index.js");
  } catch {
    return undefined;
  }
}

const node = node22();
const suite = conformanceCli();
const missing = !node ? "no Node 22 (bash .ci/node.sh 22 failed)" : !suite ? "@modelcontextprotocol/conformance is not installed" : undefined;
if (missing && process.env.CI === "true") throw new Error(`the MCP conformance test cannot run in CI: ${missing}`);

type Check = { id: string; status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED"; errorMessage?: string };

/** Every server scenario against `url`: check statuses by "scenario/check id". Asynchronous: the proxy runs in this process. */
async function runSuite(url: string): Promise<Map<string, Check["status"]>> {
  const out = mkdtempSync(join(tmpdir(), "bulwark-conformance-"));
  try {
    const child = spawn(node!, [suite!, "server", "--url", url, "--suite", "all", "-o", out], { stdio: ["ignore", "pipe", "pipe"] });
    const r = { stdout: "", stderr: "" };
    child.stdout.on("data", (d) => (r.stdout += d));
    child.stderr.on("data", (d) => (r.stderr += d));
    await new Promise((resolve) => child.once("close", resolve));
    const statuses = new Map<string, Check["status"]>();
    for (const dir of readdirSync(out)) {
      const scenario = dir.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
      const checks = JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Check[];
      for (const c of checks) {
        const key = `${scenario}/${c.id}`;
        // A check may repeat (INFO lines); its worst status counts.
        if (statuses.get(key) !== "FAILURE") statuses.set(key, c.status);
      }
    }
    if (statuses.size === 0) throw new Error(`the conformance suite produced no results:\n${r.stdout}\n${r.stderr}`);
    return statuses;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe.skipIf(missing !== undefined)("MCP conformance suite through bulwark proxy", () => {
  let upstream: ChildProcess;
  let upstreamUrl: string;
  let proxy: McpProxyServer;

  beforeAll(async () => {
    upstream = spawn(process.execPath, ["--import", "tsx", join(root, "test/fixtures/mcp-everything.ts"), "--http", "0"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    upstreamUrl = await new Promise<string>((resolve, reject) => {
      let out = "";
      upstream.stdout!.on("data", (d) => {
        out += d;
        const m = /listening (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      upstream.once("exit", (code) => reject(new Error(`the fixture server exited (${code})`)));
    });
    proxy = await mcpProxy({ url: upstreamUrl, listen: { host: "127.0.0.1", port: 0 }, store: "memory", log: () => {} });
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    upstream?.kill();
  });

  it("every check that passes directly passes through the proxy", { timeout: 600_000 }, async () => {
    const direct = await runSuite(upstreamUrl);
    // The upstream passes every server scenario: nothing fails directly.
    expect([...direct].filter(([, s]) => s === "FAILURE")).toEqual([]);
    const passed = [...direct].filter(([, s]) => s === "SUCCESS").map(([k]) => k);
    expect(passed.length).toBeGreaterThanOrEqual(40);

    const proxied = await runSuite(proxy.url!.replace("127.0.0.1", "localhost"));
    const lost = passed.filter((k) => proxied.get(k) !== "SUCCESS").map((k) => `${k}: ${proxied.get(k) ?? "missing"}`);
    expect(lost).toEqual([]);
  });
});
