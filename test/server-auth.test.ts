/**
 * `bulwark serve` with tokens, as an attacker and as operators see it: a real server over
 * a real SQLite file. Without a token nothing but the page itself answers; a reading
 * token cannot decide; a decision is recorded as the token's holder; a wide bind needs
 * tokens and answers only to its own host names. And the command: tokens from the
 * environment or a file, never printed, and no password of a store URL on the screen.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createRuntime, defineTool, type Runtime } from "../src/index.js";
import { startServer, type DashboardServer, type ServeOptions } from "../src/server/http.js";
import { call, raw } from "./fixtures/http.js";
import { kindOf } from "./fixtures/runtime.js";
import { dropSchemas, PG_URL, pgAvailable, schemaPrefix } from "./fixtures/store-pg.js";

const ADA = "ada-0123456789abcdef0123456789abcdef";
const CI = "ci-fedcba9876543210fedcba9876543210";
const TOKENS = [
  { name: "ada", role: "decide" as const, token: ADA },
  { name: "ci", role: "read" as const, token: CI },
];
const pg = await pgAvailable();
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

const dirs: string[] = [];
const prefix = schemaPrefix();
afterAll(async () => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  if (pg) await dropSchemas(prefix);
});
let open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.reverse()) await close();
  open = [];
});

const dropTable = defineTool({ name: "drop_table", effect: "destructive", approval: "always", execute: async (a: { table: string }) => `dropped ${a.table}`, verify: async () => true });

async function setup(o: Partial<ServeOptions> = {}): Promise<{ agent: Runtime; ops: Runtime; server: DashboardServer; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-auth-"));
  dirs.push(dir);
  const store = `sqlite:${join(dir, "bulwark.db")}`;
  const agent = createRuntime({ store });
  const ops = createRuntime({ store });
  await Promise.all([agent.ready(), ops.ready()]);
  const server = await startServer({ runtime: ops, port: 0, tokens: TOKENS, ...o });
  open.push(async () => {
    await server.close();
    await ops.close();
    await agent.close();
  });
  const port = new URL(server.url).port;
  return { agent, ops, server, url: `http://127.0.0.1:${port}` };
}

describe("tokens", () => {
  it("every API call and /metrics needs one; the page itself does not; a bad one is 401 and changes nothing", async () => {
    const { agent, ops, url } = await setup();
    await agent.startRun({ agent: "db-bot", runId: "run-a" }).call(dropTable, { table: "prod_users" });
    const [request] = await ops.approvals.list();

    for (const [method, path, body] of [
      ["GET", "/api/runs"],
      ["GET", "/api/approvals"],
      ["GET", "/api/session"],
      ["GET", "/metrics"],
      ["POST", `/api/approvals/${request!.id}/approve`, { by: "mallory" }],
      ["POST", "/api/freezes", { reason: "x" }],
      ["POST", "/api/runs/run-a/rollback", {}],
      ["POST", "/api/runs/run-a/stop", { reason: "x" }],
      ["POST", "/api/runs/run-a/review", { by: "mallory" }],
      ["DELETE", "/api/freezes?all=true"],
      ["GET", "/api/no-such-thing"],
    ] as const) {
      const none = await call(`${url}${path}`, method, body);
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="bulwark"');
      expect(none.body.error.message).toMatch(/needs a token/);
      const wrong = await call(`${url}${path}`, method, body, bearer(ADA.slice(0, -1) + "x"));
      expect(wrong.status).toBe(401);
      expect(wrong.body.error.message).toMatch(/not valid/);
    }
    expect(await ops.approvals.list()).toEqual([expect.objectContaining({ status: "pending" })]);
    expect(await ops.freezes()).toEqual([]);
    expect((await ops.store.runs.get("run-a"))?.stopRequested).toBeUndefined();
    expect((await ops.store.runs.get("run-a"))?.reviews).toEqual([]);

    expect((await call(`${url}/`)).status).toBe(200);
    expect((await call(`${url}/app.js`)).status).toBe(200);
    expect((await call(`${url}/metrics`, "GET", undefined, bearer(CI))).status).toBe(200);
  });

  it("a reading token reads and cannot decide; a deciding token's holder is who the decision is recorded as", async () => {
    const { agent, ops, url } = await setup();
    const run = agent.startRun({ agent: "db-bot", runId: "run-b" });
    await run.call(dropTable, { table: "prod_users" });
    const list = await call(`${url}/api/approvals`, "GET", undefined, bearer(CI));
    expect(list.status).toBe(200);
    const id = list.body.approvals[0].id as string;
    expect((await call(`${url}/api/session`, "GET", undefined, bearer(CI))).body).toEqual({ auth: true, name: "ci", role: "read" });

    const refused = await call(`${url}/api/approvals/${id}/approve`, "POST", { by: "ci" }, bearer(CI));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/ci may read but not decide/);
    expect((await call(`${url}/api/freezes`, "POST", { reason: "x" }, bearer(CI))).status).toBe(403);
    expect(await ops.approvals.list()).toEqual([expect.objectContaining({ status: "pending" })]);

    // No name needed; a name in the body is not believed.
    const approved = await call(`${url}/api/approvals/${id}/approve`, "POST", { by: "somebody-else" }, bearer(ADA));
    expect(approved).toMatchObject({ status: 200, body: { approval: { status: "approved", by: "ada" } } });
    expect(await ops.approvals.list()).toEqual([expect.objectContaining({ status: "approved", by: "ada" })]);
    expect(kindOf(await run.call(dropTable, { table: "prod_users" }))).toBe("ok");

    // A review of the run's changes: the reader may not; the decider's is recorded as theirs.
    expect((await call(`${url}/api/runs/run-b/review`, "POST", {}, bearer(CI))).status).toBe(403);
    const reviewed = await call(`${url}/api/runs/run-b/review`, "POST", { by: "somebody-else" }, bearer(ADA));
    expect(reviewed).toMatchObject({ status: 200, body: { run: { destructive: { used: 0 }, lastReview: { by: "ada" } } } });
    expect((await ops.store.runs.get("run-b"))?.reviews).toEqual([expect.objectContaining({ by: "ada" })]);

    const frozen = await call(`${url}/api/freezes`, "POST", { reason: "release" }, bearer(ADA));
    expect(frozen).toMatchObject({ status: 201, body: { freeze: { by: "ada" } } });
    const stopped = await call(`${url}/api/runs/run-b/stop`, "POST", { reason: "enough" }, bearer(ADA));
    expect(stopped.body.reason).toBe("enough (by ada)");
  });
});

describe("binding beyond loopback", () => {
  it("is refused without tokens", async () => {
    const rt = createRuntime();
    await expect(startServer({ runtime: rt, port: 0, host: "0.0.0.0" })).rejects.toThrow(/refusing to bind 0\.0\.0\.0 without tokens/);
    await expect(startServer({ runtime: rt, port: 0, host: "0.0.0.0", tokens: [] })).rejects.toThrow(/without tokens/);
    await rt.close();
  });

  it("with tokens, answers to IP addresses, loopback names and the allowed names only (DNS rebinding)", async () => {
    const { url } = await setup({ host: "0.0.0.0", allowedHosts: ["Bulwark.Internal"] });
    const port = new URL(url).port;
    const get = (host: string) => raw(url, { path: "/api/runs", headers: { host, ...bearer(ADA) } });
    for (const host of [`127.0.0.1:${port}`, `10.1.2.3:${port}`, `[::1]:${port}`, `localhost:${port}`, `bulwark.internal:${port}`, "BULWARK.internal"]) expect((await get(host)).status, host).toBe(200);
    for (const host of [`attacker.example:${port}`, "bulwark.internal.attacker.example", "10.1.2.3.attacker.example", "localhost.attacker.example"]) {
      const r = await get(host);
      expect([host, r.status]).toEqual([host, 403]);
      expect(r.body).toMatch(/--allow-host/);
    }
  });

  it("bound to loopback, other names stay refused, tokens or not", async () => {
    const { url } = await setup();
    expect((await raw(url, { path: "/api/runs", headers: { host: "10.1.2.3", ...bearer(ADA) } })).status).toBe(403);
  });
});

// Real processes, several per test: on a loaded machine they take their time.
describe("bulwark serve, the command", { timeout: 60_000 }, () => {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

  /** Start `bulwark serve` and wait for its first lines (or its exit). */
  function serve(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ["--import", tsx, main, "serve", "--port", "0", ...args], { env: { ...process.env, BULWARK_TOKENS: "", ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const started = new Promise<{ url: string; out: string }>((resolve, reject) => {
      child.stdout.on("data", () => {
        const m = /dashboard at (http:\/\/[^/]+)\/[\s\S]*\n.*\n/.exec(out);
        if (m) resolve({ url: m[1]!, out });
      });
      child.once("exit", (code) => reject(Object.assign(new Error(`exited ${code}`), { code, out, err })));
    });
    open.push(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    });
    return started;
  }

  /** A store the agents have used (serve does not make one). */
  const storeIn = async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-serve-auth-"));
    dirs.push(dir);
    const store = `sqlite:${join(dir, "b.db")}`;
    const rt = createRuntime({ store });
    await rt.ready();
    await rt.close();
    return { dir, store };
  };

  it("--host 0.0.0.0 without tokens: refused with how to give them, nothing served", async () => {
    const err = await serve(["--host", "0.0.0.0", "--store", (await storeIn()).store]).catch((e: { code: number; err: string }) => e);
    expect(err).toMatchObject({ code: 1, err: expect.stringMatching(/refusing to bind 0\.0\.0\.0 without tokens.*BULWARK_TOKENS or --tokens-file/) });
  });

  it("takes tokens from BULWARK_TOKENS, says whose, never prints one", async () => {
    const env = await serve(["--host", "0.0.0.0", "--store", (await storeIn()).store], { BULWARK_TOKENS: `ada:decide:${ADA},ci:read:${CI}` });
    expect(env.out).toMatch(/tokens: ada \(decide\), ci \(read\); every API call needs one/);
    expect(env.out).not.toContain(ADA);
    const local = env.url.replace("0.0.0.0", "127.0.0.1");
    expect((await call(`${local}/api/runs`)).status).toBe(401);
    expect((await call(`${local}/api/runs`, "GET", undefined, bearer(CI))).status).toBe(200);
  });

  it("takes tokens from --tokens-file; a file it cannot read is an error; there is no option to pass a token", async () => {
    const { dir, store } = await storeIn();
    const file = join(dir, "tokens");
    writeFileSync(file, `ada:decide:${ADA}\n`, { mode: 0o600 });
    const [fromFile, bad, onCommandLine] = await Promise.all([
      serve(["--tokens-file", file, "--store", store]),
      serve(["--tokens-file", join(dir, "none"), "--store", store]).catch((e: { code: number; err: string }) => e),
      serve(["--token", ADA, "--store", store]).catch((e: { code: number; err: string }) => e),
    ]);
    expect(fromFile.out).toMatch(/tokens: ada \(decide\)/);
    expect((await call(`${fromFile.url}/api/session`, "GET", undefined, bearer(ADA))).body).toEqual({ auth: true, name: "ada", role: "decide" });
    expect(bad).toMatchObject({ code: 2, err: expect.stringMatching(/cannot read the tokens file/) });
    expect(onCommandLine).toMatchObject({ code: 1, err: expect.stringMatching(/unknown option '--token'/) });
  });

  it("without tokens on loopback: served, with a warning that anyone who can reach it can decide", async () => {
    const started = await serve(["--store", (await storeIn()).store]);
    expect(started.out).toMatch(/no tokens: anyone who can reach this address can approve and roll back/);
    expect((await call(`${started.url}/api/session`)).body).toEqual({ auth: false });
  });

  it.skipIf(!pg)("prints a PostgreSQL store without its password", async () => {
    const u = new URL(PG_URL);
    u.password = "pw-not-for-the-screen";
    u.searchParams.set("schema", prefix);
    const started = await serve(["--store", u.toString()]);
    expect(started.out).toContain(`${u.protocol}//${u.username}:[redacted]@${u.host}`);
    expect(started.out).not.toContain("pw-not-for-the-screen");
  });
});
