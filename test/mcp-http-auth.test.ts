/**
 * `bulwark proxy --listen` with `bulwark serve`'s tokens, through the MCP SDK's client
 * over streamable HTTP, in front of test/fixtures/mcp-everything.ts (started as a child
 * per session by a wrapper that notes each start, and whether it was given
 * BULWARK_TOKENS). Without a good token nothing reaches the server; a session belongs to
 * the token that opened it; an approval given in the client is recorded as the token's
 * name; a wide bind needs tokens; no token is ever printed.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema, type CallToolResult, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "bulwark";
import { mcpProxy, type McpProxyServer } from "bulwark/mcp";

const root = fileURLToPath(new URL("..", import.meta.url));
const ADA = "ada-0123456789abcdef0123456789abcdef";
const CI = "ci-fedcba9876543210fedcba9876543210";
const TOKENS = [
  { name: "ada", role: "decide" as const, token: ADA },
  { name: "ci", role: "read" as const, token: CI },
];
const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
const failure = (r: CallToolResult) => (r._meta?.["bulwark/failure"] as { kind: string } | undefined)?.kind;
const json = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } } };

let dir: string;
let marker: string;
let server: string[];
let store: string;
let proxy: McpProxyServer;
const logs: string[] = [];
/** Each start of the server: the BULWARK_TOKENS it was given, or "-". */
const starts = () => (existsSync(marker) ? readFileSync(marker, "utf8").trim().split("\n") : []);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-proxy-auth-"));
  marker = join(dir, "starts");
  store = `sqlite:${join(dir, "b.db")}`;
  const fixture = pathToFileURL(join(root, "test/fixtures/mcp-everything.ts")).href;
  const wrapper = `require("node:fs").appendFileSync(${JSON.stringify(marker)}, "started " + (process.env.BULWARK_TOKENS ?? "-") + "\\n"); import(${JSON.stringify(fixture)});`;
  server = [process.execPath, "--import", "tsx", "-e", wrapper];
  proxy = await mcpProxy({ command: server, listen: { host: "127.0.0.1", port: 0 }, store, tokens: TOKENS, tools: new Map([["touch", { approval: "always" }]]), log: (l) => void logs.push(l) });
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});
let open: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of open.reverse()) await close().catch(() => {});
  open = [];
});

async function client(name: string, token: string | undefined, elicit?: () => ElicitResult) {
  const c = new Client({ name, version: "0" }, { capabilities: elicit ? { elicitation: {} } : {} });
  if (elicit) c.setRequestHandler(ElicitRequestSchema, async () => elicit());
  const transport = new StreamableHTTPClientTransport(new URL(proxy.url!), token === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await c.connect(transport);
  open.push(() => c.close());
  return { c, transport };
}

describe("bulwark proxy --listen with tokens", { timeout: 60_000 }, () => {
  it("no token: 401 with a JSON-RPC error the client shows, and nothing reaches the server", async () => {
    const before = starts().length;
    // What the SDK's client throws carries the status and the body's message.
    await expect(client("anonymous", undefined)).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/this server needs a token: send Authorization: Bearer <token>/) });
    const r = await fetch(proxy.url!, { method: "POST", headers: json, body: JSON.stringify(initialize) });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="bulwark"');
    expect(await r.json()).toEqual({ jsonrpc: "2.0", error: { code: -32000, message: "this server needs a token: send Authorization: Bearer <token>" }, id: null });
    // Any path, not only /mcp.
    expect((await fetch(new URL("/.well-known/oauth-protected-resource", proxy.url!))).status).toBe(401);
    expect(starts().length).toBe(before);
  });

  it("a wrong token: 401, nothing reaches the server", async () => {
    const before = starts().length;
    await expect(client("guesser", "not-a-token-0123456789abcdef0123")).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/this token is not valid here/) });
    const r = await fetch(proxy.url!, { method: "POST", headers: { ...json, authorization: `Basic ${ADA}` }, body: JSON.stringify(initialize) });
    expect(r.status).toBe(401);
    expect(starts().length).toBe(before);
  });

  it("a good token works; an approval given in the client is recorded as the token's name", async () => {
    const before = starts().length;
    const { c } = await client("approver", ADA, () => ({ action: "accept", content: { approve: true } }));
    expect(starts().length).toBe(before + 1);
    const r = (await c.callTool({ name: "touch", arguments: { id: "a" } })) as CallToolResult;
    expect(text(r)).toBe("touched a");
    const rt = createRuntime({ store });
    await rt.ready();
    expect(await rt.approvals.list()).toContainEqual(expect.objectContaining({ tool: "touch", status: "approved", by: "ada" }));
    await rt.close();
  });

  it("a read token may call tools but is not asked to approve: its call waits for someone who may decide", async () => {
    let asked = 0;
    const { c } = await client("reader", CI, () => (asked++, { action: "accept", content: { approve: true } }));
    expect(text((await c.callTool({ name: "test_simple_text", arguments: {} })) as CallToolResult)).toBe("This is a simple text response for testing.");
    expect(failure((await c.callTool({ name: "touch", arguments: { id: "r" } })) as CallToolResult)).toBe("approval_required");
    expect(asked).toBe(0);
  });

  it("a session belongs to its token: its id with no token, or another's, is refused and the call does not reach the server", async () => {
    const { c, transport } = await client("owner", ADA);
    const session = { ...json, "mcp-session-id": transport.sessionId!, "mcp-protocol-version": "2025-11-25" };
    const call = { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "test_simple_text", arguments: {} } };
    expect((await fetch(proxy.url!, { method: "POST", headers: session, body: JSON.stringify(call) })).status).toBe(401);
    const other = await fetch(proxy.url!, { method: "POST", headers: { ...session, authorization: `Bearer ${CI}` }, body: JSON.stringify(call) });
    expect(other.status).toBe(403);
    expect(await other.text()).toMatch(/this session was opened with another token/);
    const seen = (await c.callTool({ name: "calls", arguments: {} })) as CallToolResult;
    expect((seen.structuredContent as { calls: Record<string, number> }).calls.test_simple_text).toBeUndefined();
  });

  it("no token is ever printed", () => {
    expect(logs.join("\n")).toMatch(/tokens: ada \(decide\), ci \(read\); every request needs one/);
    for (const t of [ADA, CI]) expect(logs.join("\n")).not.toContain(t);
  });
});

describe("binding beyond loopback", { timeout: 60_000 }, () => {
  it("is refused without tokens, before anything is started", async () => {
    await expect(mcpProxy({ command: server, listen: { host: "0.0.0.0", port: 0 }, store: "memory", log: () => {} })).rejects.toThrow(
      /refusing to bind 0\.0\.0\.0 without tokens: anyone on the network could call the tools.*BULWARK_TOKENS or --tokens-file/,
    );
    await expect(mcpProxy({ command: server, listen: { host: "0.0.0.0", port: 0 }, store: "memory", tokens: [], log: () => {} })).rejects.toThrow(/without tokens/);
  });

  it("with tokens, answers to IP addresses, loopback names and the allowed names only (DNS rebinding)", async () => {
    const wide = await mcpProxy({ command: server, listen: { host: "0.0.0.0", port: 0 }, store: "memory", tokens: TOKENS, allowedHosts: ["Proxy.Internal"], log: () => {} });
    open.push(() => wide.close());
    const url = new URL(wide.url!.replace("0.0.0.0", "127.0.0.1"));
    const post = (host: string) => new Promise<number>((resolve, reject) => {
      // node:http, since fetch does not let a caller set Host.
      import("node:http").then(({ request }) => {
        const req = request({ host: "127.0.0.1", port: url.port, path: "/mcp", method: "POST", headers: { ...json, host, authorization: `Bearer ${ADA}` } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode!));
        });
        req.on("error", reject);
        req.end(JSON.stringify(initialize));
      }, reject);
    });
    for (const host of [`127.0.0.1:${url.port}`, `10.1.2.3:${url.port}`, `localhost:${url.port}`, `proxy.internal:${url.port}`]) expect([host, await post(host)]).toEqual([host, 200]);
    for (const host of [`attacker.example:${url.port}`, "proxy.internal.attacker.example", "localhost.attacker.example"]) expect([host, await post(host)]).toEqual([host, 403]);
  });
});

describe("bulwark proxy --listen, the command", { timeout: 60_000 }, () => {
  const main = join(root, "src/cli/main.ts");

  /** Start `bulwark proxy --listen <at>` and wait for its address (or its exit). */
  function start(at: string, args: string[], env: Record<string, string>) {
    const policy = join(dir, "proxy.yaml");
    writeFileSync(policy, "store: memory\n");
    const child = spawn(process.execPath, ["--import", "tsx", main, "proxy", "--policy", policy, "--listen", at, ...args, "--", ...server], { cwd: root, env: { ...process.env, BULWARK_TOKENS: "", ...env } });
    let err = "";
    child.stdout.resume();
    open.push(async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    });
    return new Promise<{ url: string; err: () => string; child: typeof child }>((resolve, reject) => {
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
        const m = /at (http:\/\/\S+\/mcp)[\s\S]*tokens: .*\n/.exec(err);
        if (m) resolve({ url: m[1]!, err: () => err, child });
      });
      child.once("exit", (code) => reject(Object.assign(new Error(`exited ${code}`), { code, err })));
    });
  }

  it("0.0.0.0 without tokens: refused with how to give them", async () => {
    const e = await start("0.0.0.0:0", [], {}).catch((x: { code: number; err: string }) => x);
    expect(e).toMatchObject({ code: 1, err: expect.stringMatching(/refusing to bind 0\.0\.0\.0 without tokens.*BULWARK_TOKENS or --tokens-file/) });
  });

  it("takes BULWARK_TOKENS, says whose, never prints one, and does not hand them to the server", async () => {
    const before = starts().length;
    const started = await start("0.0.0.0:0", ["--allow-host", "proxy.internal"], { BULWARK_TOKENS: `ada:decide:${ADA},ci:read:${CI}` });
    const url = new URL(started.url.replace("0.0.0.0", "127.0.0.1"));
    expect((await fetch(url, { method: "POST", headers: json, body: JSON.stringify(initialize) })).status).toBe(401);
    const c = new Client({ name: "cli", version: "0" });
    await c.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${CI}` } } }));
    open.push(() => c.close());
    expect(text((await c.callTool({ name: "test_simple_text", arguments: {} })) as CallToolResult)).toBe("This is a simple text response for testing.");
    expect(started.err()).toMatch(/tokens: ada \(decide\), ci \(read\); every request needs one/);
    for (const t of [ADA, CI]) expect(started.err()).not.toContain(t);
    expect(starts().slice(before)).toEqual(["started -"]);
  });

  it("ends on SIGTERM by closing its sessions first: exit code 143, not killed by the signal", async () => {
    const started = await start("127.0.0.1:0", [], {});
    const c = new Client({ name: "cli", version: "0" });
    await c.connect(new StreamableHTTPClientTransport(new URL(started.url)));
    expect(text((await c.callTool({ name: "test_simple_text", arguments: {} })) as CallToolResult)).toBe("This is a simple text response for testing.");
    const exited = new Promise((r) => started.child.once("exit", (code, signal) => r([code, signal])));
    started.child.kill("SIGTERM");
    expect(await exited).toEqual([143, null]);
    await c.close();
  });

  it("takes --tokens-file; --tokens-file without --listen is an error", async () => {
    const file = join(dir, "tokens");
    writeFileSync(file, `ada:decide:${ADA}\n`, { mode: 0o600 });
    const started = await start("127.0.0.1:0", ["--tokens-file", file], {});
    expect(started.err()).toMatch(/tokens: ada \(decide\); every request needs one/);
    expect((await fetch(started.url, { method: "POST", headers: { ...json, authorization: `Bearer ${ADA}` }, body: JSON.stringify(initialize) })).status).toBe(200);
    const policy = join(dir, "proxy.yaml");
    const stdio = spawn(process.execPath, ["--import", "tsx", main, "proxy", "--policy", policy, "--tokens-file", file, "--", ...server], { cwd: root });
    let err = "";
    stdio.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => stdio.once("exit", r));
    expect([code, err]).toEqual([2, expect.stringMatching(/--tokens-file and --allow-host are for --listen/)]);
  });
});
