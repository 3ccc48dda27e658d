/**
 * The 2026-07-28 protocol (stateless: no initialize, an envelope in every request's
 * `_meta`) and the proxy, with the MCP SDK v2 on both ends (`@modelcontextprotocol/client`
 * and `/server`): a v2 client that probes for that era (`versionNegotiation: auto`) reaches
 * a v2 server in it directly; through `bulwark proxy`, which does not relay that era yet,
 * it falls back to the 2025 protocol, on stdio and over HTTP, and its calls are guarded.
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
const proxy = [process.execPath, "--import", "tsx", join(root, "src/cli/main.ts"), "proxy", "--policy"];

let dir: string;
let policy: string;
const open: (() => Promise<unknown>)[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-era-"));
  policy = join(dir, "proxy.yaml");
  writeFileSync(policy, "store: memory\n");
});
afterAll(async () => {
  for (const close of open.reverse()) await close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

type Result = { content?: { type: string; text?: string }[]; isError?: boolean; _meta?: Record<string, unknown> };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? "").join("");

/** A v2 client that asks for the 2026-07-28 protocol and falls back when the other side lacks it. */
async function probing(transport: StdioClientTransport | StreamableHTTPClientTransport): Promise<Client> {
  const c = new Client({ name: "v2-client", version: "0" }, { versionNegotiation: { mode: "auto" } });
  await c.connect(transport);
  open.push(() => c.close());
  return c;
}

const stdio = (command: string[]) => new StdioClientTransport({ command: command[0]!, args: command.slice(1), cwd: root, stderr: "ignore" });

describe("the 2026-07-28 protocol", { timeout: 60_000 }, () => {
  it("directly, the v2 client and the v2 server speak it", async () => {
    const c = await probing(stdio(server));
    expect(c.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    expect(text((await c.callTool({ name: "echo", arguments: { text: "hi" } })) as Result)).toBe("hi");
  });

  it("through the proxy on stdio: the probe is answered as by a server without it, the client initializes (2025) and its calls are guarded", async () => {
    const c = await probing(stdio([...proxy, policy, "--", ...server]));
    expect(c.getNegotiatedProtocolVersion()).toMatch(/^2025-/);
    const ok = (await c.callTool({ name: "echo", arguments: { text: "hi" } })) as Result;
    expect([text(ok), ok._meta?.["bulwark/call"]]).toEqual(["hi", expect.objectContaining({ replayed: false })]);
    const refused = (await c.callTool({ name: "echo", arguments: { text: 1 } })) as Result;
    expect([refused.isError, (refused._meta?.["bulwark/failure"] as { kind?: string } | undefined)?.kind]).toEqual([true, "invalid_input"]);
  });

  it("through the proxy over HTTP (--listen): the same", async () => {
    const child = spawn(proxy[0]!, [...proxy.slice(1), policy, "--listen", "127.0.0.1:0", "--", ...server], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    open.push(async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    });
    const url = await new Promise<string>((resolve, reject) => {
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d;
        const m = /at (http:\/\/\S+\/mcp)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`the proxy exited (${code}): ${err}`)));
    });
    const c = await probing(new StreamableHTTPClientTransport(new URL(url)));
    expect(c.getNegotiatedProtocolVersion()).toMatch(/^2025-/);
    const ok = (await c.callTool({ name: "echo", arguments: { text: "over http" } })) as Result;
    expect([text(ok), ok._meta?.["bulwark/call"]]).toEqual(["over http", expect.objectContaining({ replayed: false })]);
  });
});
