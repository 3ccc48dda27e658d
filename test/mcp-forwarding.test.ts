/**
 * `bulwark proxy` relays the whole protocol, not only tools: the real command as a child
 * on stdio, in front of test/fixtures/mcp-everything.ts, and an SDK client that declares
 * sampling, elicitation and roots, as a desktop assistant would.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ProgressNotificationSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = [process.execPath, "--import", "tsx", join(root, "test/fixtures/mcp-everything.ts")];
const cli = ["--import", "tsx", join(root, "src/cli/main.ts"), "proxy"];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-forward-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
const failure = (r: CallToolResult) => (r._meta?.["bulwark/failure"] as { kind: string } | undefined)?.kind;

async function connect(name: string, policy: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, policy);
  const client = new Client({ name: `forward-${name}`, version: "0" }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  let stderr = "";
  const transport = new StdioClientTransport({ command: process.execPath, args: [...cli, "--policy", file, "--", ...fixture], cwd: root, stderr: "pipe" });
  transport.stderr?.on("data", (d) => (stderr += d));
  await client.connect(transport);
  const call = async (tool: string, args: Record<string, unknown> = {}) => (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
  return { client, call, stderr: () => stderr };
}

describe("bulwark proxy relays everything", { timeout: 60_000 }, () => {
  describe("one session", () => {
    let session: Awaited<ReturnType<typeof connect>>;
    let client: Client;
    let call: (tool: string, args?: Record<string, unknown>) => Promise<CallToolResult>;
    beforeAll(async () => {
      session = await connect("all", "store: memory\n");
      ({ client, call } = session);
    }, 60_000);
    afterAll(async () => {
      await client.close();
      expect(session.stderr()).not.toMatch(/could not send/);
    });

    it("initializes with the server's own answer: version, capabilities, instructions", async () => {
      expect(client.getServerVersion()?.name).toBe("bulwark-everything");
      expect(client.getServerCapabilities()?.resources).toEqual({ subscribe: true, listChanged: true });
      expect(client.getInstructions()).toBe("a test server");
    });

    it("resources, templates, subscriptions and the server's update notification", async () => {
      expect((await client.listResources()).resources.map((r) => r.uri)).toContain("test://static-text");
      expect((await client.listResourceTemplates()).resourceTemplates[0]?.uriTemplate).toBe("test://template/{id}/data");
      expect((await client.readResource({ uri: "test://template/7/data" })).contents[0]).toMatchObject({ text: expect.stringContaining("Data for ID: 7") });
      const updated = new Promise((resolve) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params.uri)));
      await client.subscribeResource({ uri: "test://watched-resource" });
      expect(await updated).toBe("test://watched-resource");
    });

    it("prompts and completion", async () => {
      expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain("test_prompt_with_arguments");
      const prompt = await client.getPrompt({ name: "test_prompt_with_arguments", arguments: { arg1: "a", arg2: "b" } });
      expect(prompt.messages[0]?.content).toEqual({ type: "text", text: "Prompt with arguments: arg1='a', arg2='b'" });
      expect((await client.complete({ ref: { type: "ref/prompt", name: "test_prompt_with_arguments" }, argument: { name: "arg1", value: "pa" } })).completion.values).toEqual(["paris", "park", "party"]);
    });

    it("logging: the level reaches the server, its messages reach the client", async () => {
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
      await client.setLoggingLevel("info");
      // The messages go with the call: all are in before its answer.
      await call("test_tool_with_logging");
      expect(logs).toEqual(["Tool execution started", "Tool processing data", "Tool execution completed"]);
      await client.setLoggingLevel("error");
      await call("test_tool_with_logging");
      expect(logs).toHaveLength(3);
    });

    it("progress: the client's token and _meta reach the server through the guarded call", async () => {
      // Our own handler sees every notification (the SDK's onprogress drops one read in the same chunk as the answer).
      const progress: unknown[] = [];
      client.setNotificationHandler(ProgressNotificationSchema, (n) => void progress.push([n.params.progressToken, n.params.progress]));
      await client.callTool({ name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: "p-1" } });
      await new Promise((r) => setTimeout(r, 100));
      expect(progress).toEqual([["p-1", 0], ["p-1", 50], ["p-1", 100]]);
      const meta = (await client.callTool({ name: "echo_meta", arguments: {}, _meta: { "example.com/trace": "t-1" } })) as CallToolResult;
      expect(meta.structuredContent).toEqual({ meta: { "example.com/trace": "t-1" } });
    });

    it("the server's requests to the client: sampling, elicitation, roots", async () => {
      client.setRequestHandler(CreateMessageRequestSchema, async (r) => ({ role: "assistant", model: "m", content: { type: "text", text: `echo ${(r.params.messages[0]?.content as { text: string }).text}` } }));
      expect(text(await call("test_sampling", { prompt: "hi" }))).toBe("LLM response: echo hi");
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { username: "ada", email: "ada@example.com" } }));
      expect(text(await call("test_elicitation", { message: "who?" }))).toBe('User response: action=accept, content={"username":"ada","email":"ada@example.com"}');
      client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///work", name: "work" }] }));
      expect((await call("list_roots")).structuredContent).toEqual({ roots: [{ uri: "file:///work", name: "work" }] });
    });

    it("upstream JSON-RPC errors stay errors; an isError result is the server's own", async () => {
      const rpc = await client.callTool({ name: "rpc_error", arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(rpc).toBeInstanceOf(McpError);
      expect(rpc).toMatchObject({ code: -32602, data: { why: "on purpose" } });
      expect((rpc as Error).message).toMatch(/rpc_error always refuses/);
      await expect(client.readResource({ uri: "test://nothing" })).rejects.toMatchObject({ code: -32002, data: { uri: "test://nothing" } });
      // An isError result is the server's own, with Bulwark's verdict beside it.
      const err = await call("test_error_handling");
      expect(err.isError).toBe(true);
      expect(text(err)).toBe("This tool intentionally returns an error for testing");
      expect(failure(err)).toBe("tool_error");
    });

    it("cancellation reaches the server and the run's call", async () => {
      const abort = new AbortController();
      const slow = client.callTool({ name: "slow", arguments: { ms: 10_000 } }, CallToolResultSchema, { signal: abort.signal });
      setTimeout(() => abort.abort("changed my mind"), 300);
      await expect(slow).rejects.toThrow(/changed my mind/);
      await new Promise((r) => setTimeout(r, 200));
      expect((await call("calls")).structuredContent).toMatchObject({ cancelled: 1 });
    });

    it("the server's list changes: the client hears of it, and the new tool is guarded and callable", async () => {
      const changed = new Promise((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve(true)));
      await call("grow");
      expect(await changed).toBe(true);
      expect(text(await call("grown"))).toBe("the new tool ran");
    });
    });

  it("tool names from outside: __proto__, constructor and toString are tools; deploy/staging and deploy staging are two", async () => {
    const { call, client } = await connect("names", "store: memory\n");
    try {
      for (const name of ["__proto__", "constructor", "toString"]) expect(text(await call(name))).toBe(`${name} ran (1)`);
      expect(text(await call("deploy/staging"))).toBe("deploy/staging ran (1)");
      const other = await call("deploy staging");
      expect(text(other)).toBe("deploy staging ran (1)");
      expect(other._meta?.["bulwark/call"]).toMatchObject({ replayed: false });
      expect((await call("deploy/staging"))._meta?.["bulwark/call"]).toMatchObject({ replayed: true });
      const unknown = await call("hasOwnProperty");
      expect(failure(unknown)).toBe("unknown_tool");
      expect(text(await call("test_simple_text"))).toBe("This is a simple text response for testing.");
    } finally {
      await client.close();
    }
  });

  it("unannotated tools are destructive (the specification's default); destructiveHint: false is a write", async () => {
    const { call, client } = await connect("budget", "store: memory\nrun:\n  destructive: { maxPerRun: 2 }\n  maxUnverifiedDepth: 10\n");
    try {
      // Writes use no destructive budget, and (with no read-back in MCP) cost the run no confidence.
      for (const id of ["a", "b", "c", "d", "e", "f", "g"]) expect(failure(await call("touch", { id }))).toBeUndefined();
      expect(failure(await call("deploy/staging", { n: 1 }))).toBeUndefined();
      expect(failure(await call("deploy staging", { n: 2 }))).toBeUndefined();
      const third = await call("deploy/staging", { n: 3 });
      expect(failure(third)).toBe("destructive_budget_exceeded");
      expect((await call("calls")).structuredContent).toMatchObject({ calls: { "deploy/staging": 1, "deploy staging": 1, touch: 7 } });
    } finally {
      await client.close();
    }
  });

  it("a 20 MB result fails that one call, not the connection", async () => {
    const { call, client } = await connect("size", "store: memory\n");
    try {
      const big = await call("big_result", { bytes: 20 * 1024 * 1024 });
      expect(big.isError).toBe(true);
      expect(failure(big)).toBe("tool_error");
      expect(text(big)).toMatch(/too large .*over the limit of 16\.0 MB/);
      expect(text(await call("big_result", { bytes: 1024 * 1024 }))).toHaveLength(1024 * 1024);
      expect(text(await call("test_simple_text"))).toBe("This is a simple text response for testing.");
    } finally {
      await client.close();
    }
  });
});
