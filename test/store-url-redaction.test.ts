/**
 * A PostgreSQL store URL's password never reaches the screen: not from `bulwark rollback`
 * (its messages name the store) nor from the proxy's log (it names the store of each
 * session). `bulwark serve` is checked in server-auth.test.ts. Real commands, real
 * PostgreSQL (trust auth accepts any password, so the URL below works and carries one).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, describe, expect, it } from "vitest";
import { dropSchemas, PG_URL, pgAvailable, schemaPrefix } from "./fixtures/store-pg.js";

const PASSWORD = "pw-not-for-the-screen";
const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const memoryServer = join(createRequire(import.meta.url).resolve("@modelcontextprotocol/server-memory/package.json"), "..", "dist", "index.js");
const dir = mkdtempSync(join(tmpdir(), "bulwark-url-"));
const prefix = schemaPrefix();
const pg = await pgAvailable();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pg) await dropSchemas(prefix);
});

const withPassword = () => {
  const u = new URL(PG_URL);
  u.password = PASSWORD;
  u.searchParams.set("schema", `${prefix}_${Math.random().toString(36).slice(2, 8)}`);
  return u.toString();
};

describe.skipIf(!pg)("a store URL with a password", () => {
  it("bulwark rollback names the store without it", async () => {
    const r = await new Promise<{ code: number; stderr: string; stdout: string }>((resolve) =>
      execFile(process.execPath, ["--import", tsx, main, "rollback", "no-such-run", "--store", withPassword()], { cwd: dir }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no run "no-such-run" in the store postgres:\/\/[^:]+:\[redacted\]@/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it("the proxy's log names the store without it", async () => {
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, `store: "${withPassword()}"\n`);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--import", tsx, main, "proxy", "--policy", policy, "--", process.execPath, memoryServer],
      env: { ...(process.env as Record<string, string>), MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
      stderr: "pipe",
    });
    let log = "";
    transport.stderr!.on("data", (c: Buffer) => (log += c.toString()));
    const client = new Client({ name: "test-redaction", version: "0" });
    await client.connect(transport);
    try {
      await client.callTool({ name: "read_graph", arguments: {} });
      await expect.poll(() => log).toMatch(/store postgres:\/\/[^:]+:\[redacted\]@/);
      expect(log).not.toContain(PASSWORD);
    } finally {
      await client.close();
    }
  });
});
