import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, ToolError } from "bulwark";

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer("test") };
}

describe("telemetry", () => {
  it("makes one execute_tool span per call, on the GenAI conventions, with what Bulwark decided", async () => {
    const { exporter, tracer } = tracing();
    const rt = createRuntime({ telemetry: { tracer } });
    const run = rt.startRun({ agent: "support-bot", runId: "run-7" });
    const lookup = defineTool({ name: "lookup_order", effect: "read", execute: async () => ({ status: "shipped" }) });
    const refund = defineTool({ name: "refund", effect: "write", retry: false, execute: async () => { throw new ToolError("card processor down"); } });
    await run.call(lookup, { id: "o1" });
    await run.call(refund, { id: "o1" });
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["execute_tool lookup_order", "execute_tool refund"]);
    expect(spans[0]!.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "lookup_order",
      "gen_ai.agent.name": "support-bot",
      "bulwark.run.id": "run-7",
      "bulwark.outcome": "ok",
      "bulwark.replayed": false,
      "bulwark.attempts": 1,
    });
    expect(spans[1]!.attributes).toMatchObject({ "error.type": "tool_error", "bulwark.outcome": "tool_error", "bulwark.tool.effect": "write" });
    expect(spans[1]!.status.code).toBe(2); // ERROR
    await rt.close();
  });

  it("a span the tool makes nests under the call's span (with a context manager, as an SDK registers)", async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    const { exporter, tracer } = tracing();
    const rt = createRuntime({ telemetry: { tracer } });
    const fetchy = defineTool({
      name: "fetch_policy",
      effect: "read",
      execute: async () => {
        const inner = tracer.startSpan("GET /policy");
        inner.end();
        return "ok";
      },
    });
    await rt.startRun({ agent: "a" }).call(fetchy, {});
    const [inner, outer] = exporter.getFinishedSpans();
    expect(inner!.name).toBe("GET /policy");
    expect(inner!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    await rt.close();
    context.disable();
  });

  it("records latency, failures, replays and breaker state on the registry it is given", async () => {
    const registry = new Registry();
    const rt = createRuntime({ telemetry: { metrics: registry, tracer: false }, policy: { maxConsecutiveFailures: 100 } });
    const run = rt.startRun({ agent: "a" });
    const pay = defineTool({ name: "pay", effect: "write", execute: async () => "ok" });
    await run.call(pay, { n: 1 });
    await run.call(pay, { n: 1 }); // replay
    const down = defineTool({ name: "inventory", effect: "read", retry: false, breaker: { minCalls: 2, windowSize: 2 }, execute: async () => { throw new Error("503"); } });
    await run.call(down, {});
    await run.call(down, {});
    const text = await registry.metrics();
    expect(text).toContain('bulwark_tool_call_duration_seconds_count{tool="pay",effect="write",outcome="ok"} 2');
    expect(text).toContain('bulwark_tool_call_replays_total{tool="pay"} 1');
    expect(text).toContain('bulwark_tool_call_failures_total{tool="inventory",kind="tool_error"} 2');
    expect(text).toContain('bulwark_breaker_state{tool="inventory"} 2');
    await rt.close();
  });

  it("counts runs leaving normal mode", async () => {
    const registry = new Registry();
    const rt = createRuntime({ telemetry: { metrics: registry, tracer: false } });
    const run = rt.startRun({ agent: "a" });
    const failing = defineTool({ name: "f", effect: "read", retry: false, breaker: false, execute: async () => { throw new Error("x"); } });
    await run.call(failing, {});
    await run.call(failing, {});
    expect(run.mode).toBe("halted");
    expect(await registry.metrics()).toContain('bulwark_run_mode_changes_total{mode="halted"} 1');
    await rt.close();
  });
});
