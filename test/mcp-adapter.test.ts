/**
 * bulwark/mcp against a real MCP server (server-filesystem over stdio, in a temp dir):
 * reads go through, a repeated non-idempotent edit happens once, a freeze refuses a
 * destructive tool, error results and bad arguments are failures the model can act on.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "bulwark";
import { effectOf, mcpTools, textOf, type McpToolset } from "bulwark/mcp";

const require = createRequire(import.meta.url);
const serverPath = (pkg: string) => join(require.resolve(`${pkg}/package.json`), "..", "dist", "index.js");

describe("bulwark/mcp with server-filesystem", () => {
  let dir: string;
  let client: Client;
  let set: McpToolset;

  beforeAll(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), "bulwark-mcp-")));
    client = new Client({ name: "bulwark-test", version: "0" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [serverPath("@modelcontextprotocol/server-filesystem"), dir], stderr: "ignore" }));
    set = await mcpTools(client, { tools: { move_file: { approval: "never" } } });
  });
  afterAll(async () => {
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes effects from the annotations", () => {
    const { tools, definitions } = set;
    expect(definitions.length).toBeGreaterThan(5);
    expect(tools.get("read_text_file")!.effect).toBe("read");
    expect(tools.get("edit_file")!.effect).toBe("destructive");
    expect(tools.get("create_directory")!.effect).toBe("write");
    expect(effectOf({})).toBe("destructive"); // the specification: destructiveHint defaults to true
    expect(effectOf({ annotations: { destructiveHint: false } })).toBe("write");
    expect(effectOf({ annotations: { readOnlyHint: false } })).toBe("destructive");
    // not idempotent: no retries, since the server cannot be handed our key
    expect(tools.get("edit_file")!.retry).toBe(false);
    expect(tools.get("read_text_file")!.retry).not.toBe(false);
  });

  it("a read goes through, its structured content checked against the output schema", async () => {
    writeFileSync(join(dir, "a.txt"), "hello");
    const rt = createRuntime({ store: "memory" });
    const run = rt.startRun({ agent: "mcp-test" });
    const o = await run.call(set.tools.get("read_text_file")!, { path: join(dir, "a.txt") });
    expect(o.ok).toBe(true);
    if (o.ok) {
      expect(o.value.structuredContent).toEqual({ content: "hello" });
      expect(textOf(o.value)).toBe("hello");
    }
    await rt.close();
  });

  it("a non-idempotent edit repeated with the same arguments runs once", async () => {
    const file = join(dir, "count.txt");
    writeFileSync(file, "x");
    const rt = createRuntime({ store: "memory" });
    const run = rt.startRun({ agent: "mcp-test" });
    const args = { path: file, edits: [{ oldText: "x", newText: "xx" }] };
    const first = await run.call(set.tools.get("edit_file")!, args);
    const again = await run.call(set.tools.get("edit_file")!, args); // the model repeats itself
    expect(first.ok && !first.replayed).toBe(true);
    expect(again.ok && again.replayed).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("xx"); // not "xxx"
    await rt.close();
  });

  it("a destructive tool is refused under a freeze; reads go on", async () => {
    writeFileSync(join(dir, "keep.txt"), "keep");
    const rt = createRuntime({ store: "memory", policy: { freeze: true } });
    const run = rt.startRun({ agent: "mcp-test" });
    const o = await run.call(set.tools.get("move_file")!, { source: join(dir, "keep.txt"), destination: join(dir, "gone.txt") });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.failure.kind).toBe("frozen");
    expect(existsSync(join(dir, "keep.txt"))).toBe(true);
    expect(existsSync(join(dir, "gone.txt"))).toBe(false);
    expect((await run.call(set.tools.get("list_allowed_directories")!, {})).ok).toBe(true);
    await rt.close();
  });

  it("an isError result is a tool_error with the server's text, not retried", async () => {
    const rt = createRuntime({ store: "memory" });
    const run = rt.startRun({ agent: "mcp-test" });
    const o = await run.call(set.tools.get("read_text_file")!, { path: join(dir, "missing.txt") });
    expect(o.ok).toBe(false);
    if (!o.ok) {
      expect(o.failure.kind).toBe("tool_error");
      expect(o.failure.message).toMatch(/ENOENT|no such file/i);
      expect(o.failure.detail?.attempts).toBe(1);
    }
    await rt.close();
  });

  it("arguments that break the input schema are invalid_input, and the server is not called", async () => {
    const rt = createRuntime({ store: "memory" });
    const run = rt.startRun({ agent: "mcp-test" });
    const o = await run.call(set.tools.get("edit_file")!, { path: 42 } as never);
    expect(o.ok).toBe(false);
    if (!o.ok) {
      expect(o.failure.kind).toBe("invalid_input");
      expect(o.failure.message).toContain("`path`: must be string");
      expect(o.failure.message).toContain("`edits`: required");
    }
    await rt.close();
  });

  it("an override for a tool the server does not have is an error", async () => {
    await expect(mcpTools(client, { tools: { nope: { effect: "read" } } })).rejects.toThrow(/nope/);
  });
});
