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
