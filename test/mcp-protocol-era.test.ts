/**
 * The 2026-07-28 protocol (stateless: no initialize, an envelope in every request's
 * `_meta`, results that may ask for input) and the proxy, with the MCP SDK v2 on both
 * ends (`@modelcontextprotocol/client` and `/server`): a v2 client that probes for that
 * era (`versionNegotiation: auto`) speaks it through `bulwark proxy` to a v2 server, on
 * stdio and over HTTP, and its calls are guarded; behind a 2025 server it falls back.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const server = [process.execPath, "--import", "tsx", join(root, "test/fixtures/mcp-modern-server.ts")];
const server2025 = [process.execPath, "--import", "tsx", join(root, "test/fixtures/mcp-everything.ts")];
const proxy = [process.execPath, "--import", "tsx", join(root, "src/cli/main.ts"), "proxy", "--policy"];

let dir: string;
let policy: string;
let approving: string;
const open: (() => Promise<unknown>)[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-era-"));
  policy = join(dir, "proxy.yaml");
  writeFileSync(policy, "store: memory\n");
  approving = join(dir, "approving.yaml");
  writeFileSync(approving, "store: memory\ntools:\n  confirm:\n    approval: always\n");
});
afterAll(async () => {
  for (const close of open.reverse()) await close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

type Result = { content?: { type: string; text?: string }[]; isError?: boolean; _meta?: Record<string, unknown> };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? "").join("");
const failureKind = (r: Result) => (r._meta?.["bulwark/failure"] as { kind?: string } | undefined)?.kind;

/**
 * A v2 client that asks for the 2026-07-28 protocol and falls back when the other side
 * lacks it. It answers the server's requests for input (elicitations) with `ok: true`,
 * and Bulwark's approval questions with `approve` (or declines or dismisses them), and
 * keeps what it was asked.
 */
async function probing(transport: StdioClientTransport | StreamableHTTPClientTransport, approve: boolean | "dismiss" = true): Promise<{ c: Client; asked: string[] }> {
  const c = new Client({ name: "v2-client", version: "0" }, { versionNegotiation: { mode: "auto" }, capabilities: { elicitation: { form: {} } } });
  const asked: string[] = [];
  c.setRequestHandler("elicitation/create", async (request) => {
    asked.push(request.params.message.split("\n")[0]!);
    const approval = "approve" in ((request.params as { requestedSchema?: { properties?: object } }).requestedSchema?.properties ?? {});
    if (approval && approve === "dismiss") return { action: "cancel" as const };
    if (approval && !approve) return { action: "decline" as const };
    const content: Record<string, boolean> = approval ? { approve: true } : { ok: true };
    return { action: "accept" as const, content };
  });
  await c.connect(transport);
  open.push(() => c.close());
  return { c, asked };
}

const stdio = (command: string[]) => new StdioClientTransport({ command: command[0]!, args: command.slice(1), cwd: root, stderr: "ignore" });

/** `bulwark proxy --listen` in front of `upstream`: its URL. */
async function listening(upstream: string[], policyFile = policy, env: Record<string, string> = {}): Promise<URL> {
  const child = spawn(proxy[0]!, [...proxy.slice(1), policyFile, "--listen", "127.0.0.1:0", "--", ...upstream], { cwd: root, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, BULWARK_TOKENS: "", ...env } });
  open.push(async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  });
  return new URL(
    await new Promise<string>((resolve, reject) => {
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d;
        const m = /at (http:\/\/\S+\/mcp)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`the proxy exited (${code}): ${err}`)));
    }),
  );
}

/** What every guarded client of the era gets: guarded calls, refusals as results, the server's questions relayed. */
async function guardedInTheEra(c: Client, asked: string[]) {
  expect(c.getNegotiatedProtocolVersion()).toBe("2026-07-28");
  const ok = (await c.callTool({ name: "echo", arguments: { text: "hi" } })) as Result;
  expect([text(ok), ok._meta?.["bulwark/call"]]).toEqual(["hi", expect.objectContaining({ replayed: false })]);
  // Refused by Bulwark: the server, which would have answered with its own validation error, is not called.
  const refused = (await c.callTool({ name: "echo", arguments: { text: 1 } })) as Result;
  expect([refused.isError, failureKind(refused), text(refused)]).toEqual([true, "invalid_input", expect.stringContaining("text")]);
  // The server asks for input: the client answers and calls again, and that call does what was asked, once.
  const confirmed = (await c.callTool({ name: "confirm", arguments: { what: "deploy" } })) as Result;
  expect([text(confirmed), asked]).toEqual(["deploy: done (1)", ["confirm deploy?"]]);
  expect(confirmed._meta?.["bulwark/call"]).toEqual(expect.objectContaining({ replayed: false }));
  // The same call again is the same write: replayed, not run again, not asked again.
  const again = (await c.callTool({ name: "confirm", arguments: { what: "deploy" } })) as Result;
  expect([text(again), again._meta?.["bulwark/call"], asked.length]).toEqual(["deploy: done (1)", expect.objectContaining({ replayed: true }), 1]);
}

describe("the 2026-07-28 protocol", { timeout: 60_000 }, () => {
  it("directly, the v2 client and the v2 server speak it", async () => {
    const { c } = await probing(stdio(server));
    expect(c.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    expect(text((await c.callTool({ name: "echo", arguments: { text: "hi" } })) as Result)).toBe("hi");
  });

  it("through the proxy on stdio: the client speaks it with the server, and its calls are guarded", async () => {
    const { c, asked } = await probing(stdio([...proxy, policy, "--", ...server]));
    await guardedInTheEra(c, asked);
  });

  it("through the proxy over HTTP (--listen), without a session: the same; subscriptions are refused", async () => {
    const { c, asked } = await probing(new StreamableHTTPClientTransport(await listening(server)));
    await guardedInTheEra(c, asked);
    // Not relayed on the shared connection: refused at once, not left waiting.
    await expect(c.listen({ toolsListChanged: true }, { timeout: 10_000 })).rejects.toThrow(/does not relay subscriptions/);
  });

  it("an approval is asked in the client as an input_required result; its answer decides it, and the server is reached only once it is approved; dismissed, it waits", async () => {
    const { c, asked } = await probing(stdio([...proxy, approving, "--", ...server]));
    // In the era, not through a 2025 session's elicitation (which asks the same questions).
    expect(c.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    const done = (await c.callTool({ name: "confirm", arguments: { what: "deploy" } })) as Result;
    expect([text(done), asked]).toEqual(["deploy: done (1)", ["confirm needs your approval before it runs.", "confirm deploy?"]]);
    const { c: declining, asked: declined } = await probing(stdio([...proxy, approving, "--", ...server]), false);
    const refused = (await declining.callTool({ name: "confirm", arguments: { what: "deploy" } })) as Result;
    expect([declining.getNegotiatedProtocolVersion(), refused.isError, failureKind(refused), declined]).toEqual(["2026-07-28", true, "approval_denied", ["confirm needs your approval before it runs."]]);
    // Dismissed: not asked again (the client would ask the person round after round); the approval waits.
    const { c: dismissing, asked: dismissed } = await probing(stdio([...proxy, approving, "--", ...server]), "dismiss");
    const waiting = (await dismissing.callTool({ name: "confirm", arguments: { what: "deploy" } })) as Result;
    expect([failureKind(waiting), dismissed.length]).toEqual(["approval_required", 1]);
  });

  it("over HTTP with tokens: a decide token's holder is asked to approve; a read token's holder is not, and may not approve by answering unasked", async () => {
    const ADA = "ada-0123456789abcdef0123456789abcdef";
    const CI = "ci-fedcba9876543210fedcba9876543210";
    const url = await listening(server, approving, { BULWARK_TOKENS: `ada:decide:${ADA},ci:read:${CI}` });
    const envelope = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": { elicitation: {} }, "io.modelcontextprotocol/clientInfo": { name: "raw", version: "0" } };
    /** One tools/call of the era, as a v2 client sends it; its result. */
    const call = async (token: string, extra: Record<string, unknown> = {}) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "confirm" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "confirm", arguments: { what: "deploy" }, ...extra, _meta: envelope } }),
      });
      const data = (await response.text()).split("\n").find((l) => l.startsWith("data: "))!;
      return (JSON.parse(data.slice(6)) as { result: Result & { resultType: string; inputRequests?: Record<string, unknown> } }).result;
    };
    const asked = await call(ADA);
    expect([asked.resultType, Object.keys(asked.inputRequests ?? {})]).toEqual(["input_required", [expect.stringMatching(/^bulwark\/approval\//)]]);
    const waiting = await call(CI);
    expect([waiting.resultType, failureKind(waiting)]).toEqual(["complete", "approval_required"]);
    const approvalId = /request (\S+) is waiting/.exec(text(waiting))![1]!;
    const forged = await call(CI, { inputResponses: { [`bulwark/approval/${approvalId}`]: { action: "accept", content: { approve: true } } } });
    expect([forged.resultType, failureKind(forged)]).toEqual(["complete", "approval_required"]);
  });

  it("through the proxy in front of a server at a URL (streamable HTTP): the same", async () => {
    const child = spawn(server[0]!, [...server.slice(1), "--http"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    open.push(async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d;
        const m = /listening (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
    });
    const { c, asked } = await probing(stdio([...proxy, policy, "--", url]));
    await guardedInTheEra(c, asked);
  });

  it("a policy file naming a tool the server lacks is reported at the era's first request, and the proxy on stdio exits, as after a 2025 client's initialize", async () => {
    const wrong = join(dir, "wrong.yaml");
    writeFileSync(wrong, "store: memory\ntools:\n  nope: { effect: read }\n");
    const transport = new StdioClientTransport({ command: proxy[0]!, args: [...proxy.slice(1), wrong, "--", ...server], cwd: root, stderr: "pipe" });
    let err = "";
    transport.stderr!.on("data", (d: Buffer) => void (err += d));
    const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
    const { c } = await probing(transport);
    expect(c.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    await c.listTools().catch(() => {});
    await closed;
    expect(err).toMatch(/overrides name tools the server does not have: nope/);
  });

  it("through the proxy in front of a 2025 server, the client falls back to initialize, on stdio and over HTTP", async () => {
    for (const transport of [stdio([...proxy, policy, "--", ...server2025]), new StreamableHTTPClientTransport(await listening(server2025))]) {
      const { c } = await probing(transport);
      expect(c.getNegotiatedProtocolVersion()).toMatch(/^2025-/);
      const ok = (await c.callTool({ name: "test_simple_text", arguments: {} })) as Result;
      expect(ok._meta?.["bulwark/call"]).toEqual(expect.objectContaining({ replayed: false }));
    }
  });
});
