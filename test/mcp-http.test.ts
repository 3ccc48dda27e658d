/**
 * `mcpProxy` serving streamable HTTP (what `bulwark proxy --listen` runs), in front of
 * test/fixtures/mcp-everything.ts started as a child per session: approvals asked in the
 * client through elicitation, the DNS-rebinding checks, the client's protocol version,
 * idle sessions closed; and in front of the same server reached at its URL, the size limit.
 */
import { spawn } from "node:child_process";
import { request } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema, type CallToolResult, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "bulwark";
import { mcpProxy, type McpProxyServer } from "bulwark/mcp";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = [process.execPath, "--import", "tsx", join(root, "test/fixtures/mcp-everything.ts")];
const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
const failure = (r: CallToolResult) => (r._meta?.["bulwark/failure"] as { kind: string } | undefined)?.kind;

let dir: string;
let proxy: McpProxyServer;
let store: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-http-"));
  store = `sqlite:${join(dir, "b.db")}`;
  proxy = await mcpProxy({ command: fixture, listen: { host: "127.0.0.1", port: 0 }, store, tools: new Map([["touch", { approval: "always" }]]), log: () => {} });
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function client(name: string, elicit?: () => ElicitResult) {
  const c = new Client({ name, version: "0" }, { capabilities: elicit ? { elicitation: {} } : {} });
  if (elicit) c.setRequestHandler(ElicitRequestSchema, async () => elicit());
  await c.connect(new StreamableHTTPClientTransport(new URL(proxy.url!)));
  return c;
}

/** A raw POST, with any Host and Origin (fetch may not set Host). */
function post(headers: Record<string, string>, body: object): Promise<{ status: number }> {
  const url = new URL(proxy.url!);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode! }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}
const initialize = (version: string) => ({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "0" } } });

describe("bulwark proxy over streamable HTTP", { timeout: 60_000 }, () => {
  it("asks the person in the client to approve; accepted, the call runs and the approval names the client", async () => {
    const c = await client("approver", () => ({ action: "accept", content: { approve: true } }));
    try {
      const r = (await c.callTool({ name: "touch", arguments: { id: "a" } })) as CallToolResult;
      expect(text(r)).toBe("touched a");
      const rt = createRuntime({ store });
      await rt.ready();
      expect(await rt.approvals.list()).toContainEqual(expect.objectContaining({ tool: "touch", status: "approved", by: "mcp client approver" }));
      await rt.close();
    } finally {
      await c.close();
    }
  });

  it("declined in the client: approval_denied; a client that cannot ask: approval_required, as before", async () => {
    const decliner = await client("decliner", () => ({ action: "decline" }));
    const silent = await client("silent");
    try {
      const denied = (await decliner.callTool({ name: "touch", arguments: { id: "b" } })) as CallToolResult;
      expect(failure(denied)).toBe("approval_denied");
      expect(text(denied)).toMatch(/denied by mcp client decliner: declined in the MCP client/);
      const waiting = (await silent.callTool({ name: "touch", arguments: { id: "c" } })) as CallToolResult;
      expect(failure(waiting)).toBe("approval_required");
      // Dismissing the form leaves the request waiting for someone else.
      const dismisser = await client("dismisser", () => ({ action: "cancel" }));
      expect(failure((await dismisser.callTool({ name: "touch", arguments: { id: "d" } })) as CallToolResult)).toBe("approval_required");
      await dismisser.close();
    } finally {
      await decliner.close();
      await silent.close();
    }
  });

  it("refuses another host name (DNS rebinding) and another origin; serves localhost", async () => {
    const port = new URL(proxy.url!).port;
    expect((await post({ host: "evil.example" }, initialize("2025-11-25"))).status).toBe(403);
    expect((await post({ host: `localhost:${port}`, origin: "http://evil.example" }, initialize("2025-11-25"))).status).toBe(403);
    const ok = await post({ host: `localhost:${port}`, origin: `http://localhost:${port}` }, initialize("2025-11-25"));
    expect(ok.status).toBe(200);
    expect((await post({ host: `localhost:${port}` }, { jsonrpc: "2.0", id: 2, method: "tools/list" })).status).toBe(400);
  });

  it("the client's protocol version reaches the server: each session speaks the version its client asked for", async () => {
    for (const version of ["2025-03-26", "2025-06-18", "2025-11-25"]) {
      const r = await fetch(proxy.url!, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(initialize(version)) });
      expect(r.status).toBe(200);
      expect(await r.text()).toContain(`"protocolVersion":"${version}"`);
    }
  });

  it("an idle session is closed (its child stopped); its id is then unknown", async () => {
    const idle = await mcpProxy({ command: fixture, listen: { host: "127.0.0.1", port: 0 }, store: "memory", sessionIdleMs: 500, log: () => {} });
    try {
      const url = new URL(idle.url!);
      const open = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(initialize("2025-11-25")) });
      const session = open.headers.get("mcp-session-id")!;
      expect(await open.text()).toContain('"protocolVersion":"2025-11-25"');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const late = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) });
      expect(late.status).toBe(404);
      expect(await late.text()).toMatch(/no such session/);
    } finally {
      await idle.close();
    }
  });
});

describe("bulwark proxy in front of a server at a URL", { timeout: 60_000 }, () => {
  it("a 20 MB result fails that one call (tool_error, the stdio upstream's message); the calls after work", async () => {
    const server = spawn(fixture[0]!, [...fixture.slice(1), "--http", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    let upstream: McpProxyServer | undefined;
    let c: Client | undefined;
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        server.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        server.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
      });
      const logs: string[] = [];
      upstream = await mcpProxy({ url, listen: { host: "127.0.0.1", port: 0 }, store: "memory", log: (l) => void logs.push(l) });
      c = new Client({ name: "sizer", version: "0" });
      await c.connect(new StreamableHTTPClientTransport(new URL(upstream.url!)));
      const big = (await c.callTool({ name: "big_result", arguments: { bytes: 20 * 1024 * 1024 } })) as CallToolResult;
      expect(big.isError).toBe(true);
      expect(failure(big)).toBe("tool_error");
      expect(text(big)).toMatch(/the MCP server's answer is too large \(a message of 20\.0 MB is over the limit of 16\.0 MB\); it was dropped/);
      expect(text((await c.callTool({ name: "big_result", arguments: { bytes: 1024 * 1024 } })) as CallToolResult)).toHaveLength(1024 * 1024);
      expect(text((await c.callTool({ name: "test_simple_text", arguments: {} })) as CallToolResult)).toBe("This is a simple text response for testing.");
      // Called once: not retried, and the stream was not resumed to send it again.
      expect(((await c.callTool({ name: "calls", arguments: {} })) as CallToolResult).structuredContent).toMatchObject({ calls: { big_result: 2 } });
      expect(logs.filter((l) => /too large/.test(l))).toHaveLength(1);
    } finally {
      await c?.close();
      await upstream?.close();
      server.kill();
    }
  });
});
