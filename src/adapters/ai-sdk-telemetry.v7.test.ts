/**
 * AI SDK 7's own telemetry and Bulwark's spans, in one trace: with `@ai-sdk/otel`'s
 * OpenTelemetry integration the SDK makes an `execute_tool` span per tool call (with the
 * model's `gen_ai.tool.call.id`) and runs the tool inside it; Bulwark's span for that call
 * is its child and links the run's `invoke_agent` span. Exported through the OpenTelemetry
 * SDK's in-memory exporter. AI SDK 7 needs Node 22 or later: on Node 20 this is skipped.
 */
import { context, type SpanContext } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { generateText, jsonSchema, tool } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { createRuntime } from "bulwark";
import { guardTools } from "bulwark/ai-sdk";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

vi.mock("ai", () => import("ai7"));
vi.mock("ai/test", () => import("ai7/test"));

const node = Number(process.versions.node.split(".")[0]);
const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } };

/** A model that calls `lookup` once (tool call id `tc_lookup`), then answers. */
function model() {
  let step = 0;
  return new MockLanguageModelV3({
    doGenerate: async () =>
      step++ === 0
        ? { content: [{ type: "tool-call", toolCallId: "tc_lookup", toolName: "lookup", input: JSON.stringify({ q: "order 7" }) }], finishReason: { unified: "tool-calls", raw: undefined }, usage, warnings: [] }
        : { content: [{ type: "text", text: "done" }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] },
  });
}

/** Bulwark's spans and the SDK's of one generateText call, with or without the SDK's telemetry. */
async function spans(withSdkTelemetry: boolean) {
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("test");
  const lookup = tool({ inputSchema: jsonSchema<{ q: string }>({ type: "object", properties: { q: { type: "string" } } }), execute: async ({ q }) => `found ${q}` });
  const guarded = guardTools({ lookup: { tool: lookup, effect: "read" } });
  const rt = createRuntime({ telemetry: { tracer } });
  const run = rt.startRun({ agent: "support-bot" });
  // AI SDK 7's option (its types are not the `ai` these tests are typed against).
  const { OpenTelemetry } = await import("@ai-sdk/otel");
  const sdkTelemetry = withSdkTelemetry ? { telemetry: { integrations: new OpenTelemetry({ tracer }) } } : {};
  await generateText({ model: model(), tools: guarded.for(run), prompt: "where is order 7?", ...sdkTelemetry });
  await run.end();
  await rt.close();
  const all = exporter.getFinishedSpans();
  const isBulwarks = (s: ReadableSpan) => s.attributes["bulwark.call.id"] !== undefined;
  return {
    bulwark: all.find((s) => s.name === "execute_tool lookup" && isBulwarks(s))!,
    sdk: all.find((s) => s.name === "execute_tool lookup" && !isBulwarks(s)),
    run: all.find((s) => s.name === "invoke_agent support-bot")!,
  };
}

const ids = (c: SpanContext | undefined) => (c ? { traceId: c.traceId, spanId: c.spanId } : undefined);

describe.skipIf(node < 22)("AI SDK 7's telemetry and Bulwark's spans", () => {
  beforeAll(() => void context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());

  it("with the SDK's OpenTelemetry integration, Bulwark's span of a tool call is the child of the SDK's, with the model's tool call id, and links the run's span", async () => {
    const { bulwark, sdk, run } = await spans(true);
    expect(sdk).toBeDefined();
    expect([sdk!.attributes["gen_ai.tool.call.id"], bulwark.attributes["gen_ai.tool.call.id"]]).toEqual(["tc_lookup", "tc_lookup"]);
    expect(ids(bulwark.parentSpanContext)).toEqual(ids(sdk!.spanContext()));
    expect(bulwark.links.map((l) => ids(l.context))).toEqual([ids(run.spanContext())]);
  });

  it("without it, Bulwark's span is the child of the run's span, as always", async () => {
    const { bulwark, sdk, run } = await spans(false);
    expect(sdk).toBeUndefined();
    expect(bulwark.attributes["gen_ai.tool.call.id"]).toBe("tc_lookup");
    expect(ids(bulwark.parentSpanContext)).toEqual(ids(run.spanContext()));
  });
});

it.skipIf(node >= 22)("AI SDK 7 needs Node 22 or later: its telemetry is tested in CI's Node 22 and 24 runs", () => {});
