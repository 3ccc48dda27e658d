/**
 * Each input format of replay, from a file its real producer wrote: OTLP JSON from the
 * OpenTelemetry SDK (Bulwark's own tracing, serialized by the OTLP exporter's serializer),
 * and the `steps` of a real AI SDK `generateText` run against the mock model.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { generateText, stepCountIs, tool } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createRuntime, defineTool, replay, ToolError } from "../src/index.js";
import { readRecording } from "../src/replay/formats/index.js";
import tools, { dropTable, lookupOrder } from "./fixtures/replay-tools.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A live agent run through Bulwark with tracing on; its spans as an OTLP JSON file. */
async function tracedRun(recordContent: boolean): Promise<string> {
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("agent");
  const rt = createRuntime({ telemetry: { tracer, recordContent } });
  const failingRefund = defineTool({ name: "refund", effect: "write", retry: false, execute: async () => { throw new ToolError("payments answered 503"); } });
  const run = rt.startRun({ agent: "ops", runId: "conv-42" });
  await run.call(lookupOrder, { id: "o1" });
  await run.call(failingRefund, { order: "o1", cents: 500 });
  for (const table of ["a", "b", "c", "d"]) await run.call(dropTable, { table });
  await run.end();
  await rt.close();
  const file = join(dir, `trace-${recordContent}.json`);
  writeFileSync(file, Buffer.from(JsonTraceSerializer.serializeRequest(exporter.getFinishedSpans())!));
  return file;
}


/** The recorded run replayed with a destructive budget of 1: the second drop is refused. */
const ENFORCED_WITH_BUDGET_1 = [
  ["lookup_order", false, undefined],
  ["refund", false, "tool_error"],
  ["drop_table", false, undefined],
  ["drop_table", true, "destructive_budget_exceeded"],
];
describe("replay of OTLP JSON traces (GenAI execute_tool spans)", () => {
  it("groups the spans of a run by its conversation id, in order, with arguments, results and errors", async () => {
    const recording = await readRecording(await tracedRun(true));
    expect(recording.problems).toEqual([]);
    expect(recording.runs).toHaveLength(1);
    const run = recording.runs[0]!.run as { runId: string; agent: string; calls: { tool: string; args: unknown; result?: unknown; error?: unknown }[] };
    expect(run.runId).toBe("conv-42");
    expect(run.agent).toBe("ops");
    expect(run.calls.map((c) => c.tool)).toEqual(["lookup_order", "refund", "drop_table", "drop_table", "drop_table", "drop_table"]);
    expect(run.calls[0]).toMatchObject({ args: { id: "o1" }, result: { id: "o1", cents: 1200 } });
    expect(run.calls[1]!.error).toContain("payments answered 503");
    // The fourth drop was refused live (budget of 3): it never ran, so there is no result to give back.
    expect(run.calls[5]!.error).toMatch(/^not run when recorded \(destructive_budget_exceeded\)/);

    const report = await replay(recording, { tools, policy: { destructive: { maxPerRun: 1 } } });
    expect(report.runs[0]!.calls.map((c) => [c.tool, c.refused, c.kind])).toEqual(ENFORCED_WITH_BUDGET_1);
  });

  it("reports each span recorded without its arguments by its span id, and counts it as skipped", async () => {
    const recording = await readRecording(await tracedRun(false));
    expect(recording.problems).toHaveLength(6);
    for (const p of recording.problems) {
      expect(p.where).toMatch(/^span [0-9a-f]{16}$/);
      expect(p.message).toContain("has no gen_ai.tool.call.arguments");
    }
    const report = await replay(recording, { tools });
    expect(report.summary).toMatchObject({ runs: 0, skipped: 6 });
  });

  it("reports a span without ids, and a line that is neither OTLP nor a run", async () => {
    const body = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: "x" }] }] }] });
    const file = join(dir, "mixed.jsonl");
    writeFileSync(file, `${body}\n${JSON.stringify({ resourceSpans: "no" })}\n`);
    const { skipped } = await replay(await readRecording(file), { tools });
    expect(skipped.map((p) => p.where)).toEqual(["line 1", "line 2"]);
    expect(skipped[0]!.message).toContain("without traceId or spanId");
    expect(skipped[1]!.message).toContain("runId must be a non-empty text");
  });
});

const usage = { inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 5, text: 5, reasoning: undefined } };
type Content = Awaited<ReturnType<MockLanguageModelV3["doGenerate"]>>["content"];

/** A real generateText run: the model calls the tools in `script`, one step per entry; returns its saved steps. */
async function savedSteps(script: Content[]): Promise<string> {
  let step = 0;
  const model = new MockLanguageModelV3({
    doGenerate: async () => {
      const content = script[step++] ?? [{ type: "text", text: "done" }];
      return { content, finishReason: { unified: content.some((c) => c.type === "tool-call") ? "tool-calls" : "stop", raw: undefined }, usage, warnings: [] };
    },
  });
  const result = await generateText({
    model,
    prompt: "tidy up order o1",
    stopWhen: stepCountIs(10),
    tools: {
      lookup_order: tool({ inputSchema: z.object({ id: z.string() }), execute: async ({ id }) => ({ id, cents: 1200 }) }),
      refund: tool({ inputSchema: z.object({ order: z.string(), cents: z.number() }), execute: async (): Promise<{ refunded: number }> => { throw new Error("payments answered 503"); } }),
      drop_table: tool({ inputSchema: z.object({ table: z.string() }), execute: async ({ table }) => ({ dropped: table }) }),
      notify: tool({ inputSchema: z.object({ text: z.string() }) }), // no execute: the client runs it
    },
  });
  return JSON.stringify(result.steps);
}

const call = (id: string, toolName: string, input: unknown) => ({ type: "tool-call" as const, toolCallId: id, toolName, input: JSON.stringify(input) });

describe("replay of AI SDK steps", () => {
  it("reads the calls of a saved generateText result in order, with results and the error the model was told", async () => {
    const steps = await savedSteps([
      [call("c1", "lookup_order", { id: "o1" })],
      [call("c2", "refund", { order: "o1", cents: 5 }), call("c3", "drop_table", { table: "orders" })],
      [call("c4", "drop_table", { table: "users" })],
    ]);
    const file = join(dir, "support-run.json");
    writeFileSync(file, steps);
    const recording = await readRecording(file);
    expect(recording.problems).toEqual([]);
    const run = recording.runs[0]!.run as { runId: string; calls: { tool: string; at?: string }[] };
    expect(run.runId).toBe("support-run");
    expect(run.calls.map((c) => c.tool)).toEqual(["lookup_order", "refund", "drop_table", "drop_table"]);
    expect(run.calls[1]).toMatchObject({ args: { order: "o1", cents: 5 }, error: "payments answered 503" });
    expect(run.calls.every((c) => typeof c.at === "string")).toBe(true);

    const report = await replay(recording, { tools, policy: { destructive: { maxPerRun: 1 } } });
    expect(report.runs[0]!.calls.map((c) => [c.tool, c.refused, c.kind])).toEqual(ENFORCED_WITH_BUDGET_1);
  });

  it("takes JSONL lines with steps in place of calls, with labels, and reports a tool call that has no result", async () => {
    const good = await savedSteps([[call("g1", "lookup_order", { id: "o1" })]]);
    const bad = await savedSteps([[call("b1", "drop_table", { table: "a" })], [call("b2", "drop_table", { table: "b" }), call("b3", "notify", { text: "dropped" })]]);
    const file = join(dir, "labelled.jsonl");
    writeFileSync(file, [`{"runId":"good-1","label":"good","steps":${good}}`, `{"runId":"bad-1","label":"bad","steps":${bad}}`].join("\n"));
    const recording = await readRecording(file);
    expect(recording.problems).toEqual([{ where: "line 2, step 1, tool call b3", message: "notify has no tool-result or tool-error in its step (a tool without execute?)" }]);
    const report = await replay(recording, { tools: [lookupOrder, dropTable], policy: { destructive: { maxPerRun: 1 } } });
    expect(report.summary).toMatchObject({ runs: 2, skipped: 1, labels: { bad: { stopped: 1, passed: 0 }, good: { stopped: 0, passed: 1 } } });
  });
});
