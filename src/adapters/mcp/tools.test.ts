import { describe, expect, it } from "vitest";
import { createRuntime } from "../../index.js";
import { mcpTool, type McpArgs, type McpCaller } from "./tools.js";

/** The server end of the adapter: what it was asked, and a structured answer. */
function server(structuredContent?: unknown) {
  const seen: unknown[] = [];
  const caller: McpCaller = async (params) => {
    seen.push(params.arguments);
    return { content: [{ type: "text", text: "done" }], ...(structuredContent !== undefined ? { structuredContent: structuredContent as Record<string, unknown> } : {}) };
  };
  return { seen, caller };
}

describe("an MCP tool's JSON Schemas (jsonSchema, draft 2020-12 and draft-07)", () => {
  it("validates the arguments without changing them: no defaults filled in, keys in their order", async () => {
    const { seen, caller } = server();
    const tool = mcpTool(caller, {
      name: "book",
      annotations: { readOnlyHint: true },
      inputSchema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        properties: { seats: { type: "array", prefixItems: [{ type: "string" }], items: false }, cabin: { type: "string", default: "economy" } },
        required: ["seats"],
      },
    });
    const run = createRuntime().startRun({ agent: "a" });
    const args: McpArgs = { seats: ["12A"], note: { z: 1, a: 2 } };
    expect((await run.call(tool, args)).ok).toBe(true);
    expect(seen).toEqual([args]);
    expect(Object.keys((seen[0] as { note: object }).note)).toEqual(["z", "a"]);
    expect(seen[0]).not.toHaveProperty("cabin");
    const bad = await run.call(tool, { seats: ["12A", "12B"] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.failure).toMatchObject({ kind: "invalid_input", stage: "validate-input" });
    expect(seen).toHaveLength(1);
  });

  it("checks structuredContent against the output schema, with the path of what is wrong; a schema that does not compile is left to the server", async () => {
    const outputSchema = { type: "object" as const, properties: { id: { type: "string" } }, required: ["id"] };
    const run = createRuntime().startRun({ agent: "a" });
    const wrong = mcpTool(server({ id: 7 }).caller, { name: "lookup", annotations: { readOnlyHint: true }, inputSchema: { type: "object" }, outputSchema });
    const o = await run.call(wrong, {});
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.failure.message).toContain("`structuredContent.id`");
    const right = mcpTool(server({ id: "b-1" }).caller, { name: "lookup2", annotations: { readOnlyHint: true }, inputSchema: { type: "object" }, outputSchema });
    expect((await run.call(right, {})).ok).toBe(true);
    const broken = mcpTool(server().caller, { name: "odd", annotations: { readOnlyHint: true }, inputSchema: { type: "object", properties: { a: { type: "no-such-type" } } } as never });
    expect((await run.call(broken, { a: 1 })).ok).toBe(true);
  });
});

describe("an MCP tool's rules, verifies and escalation (from the caller: MCP has no words for them)", () => {
  const object = { type: "object" as const };

  it("a rule refuses before the server is called", async () => {
    const { seen, caller } = server();
    const tool = mcpTool(caller, { name: "write_file", inputSchema: object }, { rules: [(args) => (String(args.path).startsWith("/work/") ? undefined : "only under /work/")] });
    const run = createRuntime().startRun({ agent: "a" });
    const o = await run.call(tool, { path: "/etc/passwd" });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.failure).toMatchObject({ kind: "policy_violation" });
    if (!o.ok) expect(o.failure.message).toContain("only under /work/");
    expect(seen).toHaveLength(0);
    expect((await run.call(tool, { path: "/work/a" })).ok).toBe(true);
  });

  it("verifies names MCP tools, mapped with the same prefix; a read of them passes the gate", async () => {
    const { caller } = server();
    const write = mcpTool(caller, { name: "save/note", annotations: { destructiveHint: false }, inputSchema: object }, {}, { prefix: "fs." });
    const read = mcpTool(caller, { name: "read/note", annotations: { readOnlyHint: true }, inputSchema: object }, { verifies: ["save/note"] }, { prefix: "fs." });
    expect(read.spec.verifies).toEqual(["fs.save:2f:note"]);
    const run = createRuntime().startRun({ agent: "a", policy: { maxUnverifiedDepth: 1 } });
    expect((await run.call(write, { n: 1 })).ok).toBe(true);
    const gated = await run.call(write, { n: 2 });
    expect(gated.ok).toBe(false);
    if (!gated.ok) expect(gated.failure.kind).toBe("verification_required");
    expect((await run.call(read, {})).ok).toBe(true);
    expect((await run.call(write, { n: 3 })).ok).toBe(true);
    expect(() => mcpTool(caller, { name: "w", inputSchema: object }, { verifies: ["save/note"] })).toThrow(/verifies is for read tools/);
  });

  it("an escalation tool runs on a halted run and hands it off", async () => {
    const { seen, caller } = server();
    const page = mcpTool(caller, { name: "page_human", annotations: { destructiveHint: false }, inputSchema: object }, { escalation: true });
    expect(page.escalation).toBe(true);
    const run = createRuntime().startRun({ agent: "a" });
    await run.stop("enough");
    expect((await run.call(page, { summary: "stuck" })).ok).toBe(true);
    expect(seen).toEqual([{ summary: "stuck" }]);
    // A halted run stays halted (the stronger state); the handoff is recorded all the same.
    expect(run.mode).toBe("halted");
    expect(run.handoff?.reason).toMatch(/page_human.*stuck/);
  });
});

describe("an MCP tool whose server asks for input first (input_required, MCP 2026-07-28)", () => {
  const object = { type: "object" as const };
  /** A server that asks once per call, then acts when the call comes again with the answer. */
  function asking() {
    let acted = 0;
    let asked = 0;
    const caller: McpCaller = async () => {
      if (asked === acted) {
        asked++;
        return { resultType: "input_required", inputRequests: { ok: { method: "elicitation/create", params: {} } } } as never;
      }
      acted++;
      return { content: [{ type: "text", text: `done ${acted}` }] };
    };
    return { caller, counts: () => ({ asked, acted }) };
  }

  it("a write: the round that asks ends as input_required, without effect, its key released; the call again is the same key and runs once, then replays", async () => {
    const { caller, counts } = asking();
    const tool = mcpTool(caller, { name: "deploy", annotations: { destructiveHint: false }, inputSchema: object });
    const run = createRuntime().startRun({ agent: "a" });
    const first = await run.call(tool, { env: "prod" });
    expect(first.ok ? undefined : [first.failure.kind, first.failure.retryable]).toEqual(["input_required", true]);
    // Neutral to the run: it costs no confidence.
    expect(run.confidence).toBe(1);
    expect((await run.call(tool, { env: "prod" })).ok).toBe(true);
    const again = await run.call(tool, { env: "prod" });
    expect([again.ok && again.replayed, counts()]).toEqual([true, { asked: 1, acted: 1 }]);
  });

  it("a read, which retries: the question is not sent again unanswered", async () => {
    const { caller, counts } = asking();
    const tool = mcpTool(caller, { name: "which_account", annotations: { readOnlyHint: true }, inputSchema: object });
    const run = createRuntime().startRun({ agent: "a" });
    const first = await run.call(tool, {});
    expect(first.ok ? undefined : first.failure.kind).toBe("input_required");
    expect(counts()).toEqual({ asked: 1, acted: 0 });
  });
});

describe("an MCP tool's caller", () => {
  it("is told the call's toolCallId (the proxy finds the client's side of the call by it), on every attempt", async () => {
    const ids: (string | undefined)[] = [];
    let failOnce = true;
    const caller: McpCaller = async (_params, { toolCallId }) => {
      ids.push(toolCallId);
      if (failOnce) {
        failOnce = false;
        throw new Error("flaky");
      }
      return { content: [{ type: "text", text: "done" }] };
    };
    const tool = mcpTool(caller, { name: "look", annotations: { readOnlyHint: true }, inputSchema: { type: "object" } });
    const run = createRuntime().startRun({ agent: "a" });
    expect((await run.call(tool, {}, { toolCallId: "7" })).ok).toBe(true);
    expect((await run.call(tool, { again: 1 })).ok).toBe(true);
    expect(ids).toEqual(["7", "7", undefined]);
  });
});
