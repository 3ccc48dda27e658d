import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, ToolError } from "bulwark";

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer("test") };
}

import * as conv from "@opentelemetry/semantic-conventions/incubating";

describe("telemetry: traces", () => {
  it("one invoke_agent span per run, execute_tool spans as its children, on the GenAI conventions", async () => {
    const { exporter, tracer } = tracing();
    const rt = createRuntime({ telemetry: { tracer } });
    const run = rt.startRun({ agent: "support-bot", runId: "run-7" });
    const lookup = defineTool({ name: "lookup_order", description: "Find an order", effect: "read", execute: async () => ({ status: "shipped" }) });
    const refund = defineTool({ name: "refund", effect: "write", retry: false, execute: async () => { throw new ToolError("card processor down"); } });
    await run.call(lookup, { id: "o1" }, { toolCallId: "call_mszuSIzqtI65i1wAUOE8w5H4" });
    await run.call(refund, { id: "o1" });
    await run.end();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["execute_tool lookup_order", "execute_tool refund", "invoke_agent support-bot"]);
    const [first, second, agent] = spans as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(agent.attributes).toMatchObject({
      [conv.ATTR_GEN_AI_OPERATION_NAME]: conv.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
      [conv.ATTR_GEN_AI_AGENT_NAME]: "support-bot",
      [conv.ATTR_GEN_AI_CONVERSATION_ID]: "run-7",
    });
    for (const s of [first, second]) {
      expect(s.parentSpanContext?.spanId).toBe(agent.spanContext().spanId);
      expect(s.spanContext().traceId).toBe(agent.spanContext().traceId);
      expect(s.kind).toBe(SpanKind.INTERNAL);
    }
    expect(first.attributes).toMatchObject({
      [conv.ATTR_GEN_AI_OPERATION_NAME]: conv.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
      [conv.ATTR_GEN_AI_TOOL_NAME]: "lookup_order",
      [conv.ATTR_GEN_AI_TOOL_TYPE]: "function",
      [conv.ATTR_GEN_AI_TOOL_DESCRIPTION]: "Find an order",
      // The model's id, so that this span joins the model's tool call; Bulwark's own id beside it.
      [conv.ATTR_GEN_AI_TOOL_CALL_ID]: "call_mszuSIzqtI65i1wAUOE8w5H4",
      [conv.ATTR_GEN_AI_CONVERSATION_ID]: "run-7",
      "bulwark.run.id": "run-7",
      "bulwark.outcome": "ok",
      "bulwark.replayed": false,
      "bulwark.attempts": 1,
    });
    expect(first.attributes["bulwark.call.id"]).toMatch(/^[0-9a-f-]{36}$/);
    // No model id known: the attribute is absent rather than carrying an id the model never saw.
    expect(second.attributes[conv.ATTR_GEN_AI_TOOL_CALL_ID]).toBeUndefined();
    expect(second.attributes).toMatchObject({ [ATTR_ERROR_TYPE]: "tool_error", "bulwark.outcome": "tool_error", "bulwark.tool.effect": "write" });
    expect(second.status.code).toBe(SpanStatusCode.ERROR);
    // Content is opt-in: nothing recorded by default.
    expect(first.attributes[conv.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]).toBeUndefined();
    expect(first.attributes[conv.ATTR_GEN_AI_TOOL_CALL_RESULT]).toBeUndefined();
    await rt.close();
  });

  it("tells every decision as a bulwark.<decision> span event, when it happens", async () => {
    const { exporter, tracer } = tracing();
    const rt = createRuntime({ telemetry: { tracer }, policy: { maxConsecutiveFailures: 3 } });
    const run = rt.startRun({ agent: "ops", runId: "run-d" });
    let n = 0;
    const flaky = defineTool({ name: "flaky", effect: "read", retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10 }, breaker: { windowSize: 2, minCalls: 2, failureRate: 1, halfOpenAfterMs: 60_000 }, execute: async () => { n++; throw new Error("503"); } });
    const o1 = await run.call(flaky, {});
    expect(o1.ok).toBe(false);
    const o2 = await run.call(flaky, {}); // breaker open: refused without calling
    expect(!o2.ok && o2.failure.kind).toBe("breaker_open");
    const o3 = await run.call(flaky, {}); // third failure in a row: the run halts
    expect(!o3.ok && o3.failure.kind).toBe("breaker_open");
    expect(run.mode).toBe("halted");
    await run.end();
    const spans = exporter.getFinishedSpans();
    const events = (s: ReadableSpan) => s.events.map((e) => e.name);
    // The breaker opens on the second attempt, which ends the retries (no third attempt, no backoff).
    expect(events(spans[0]!)).toEqual(["bulwark.attempt_failed", "bulwark.retry", "bulwark.attempt_failed", "bulwark.breaker_opened", "bulwark.refused"]);
    expect(spans[0]!.events[1]!.attributes).toMatchObject({ "bulwark.attempt": 2, "bulwark.backoff_ms": expect.any(Number) });
    expect(spans[0]!.events[0]!.attributes).toMatchObject({ "bulwark.attempt": 1, "bulwark.error": "503" });
    expect(events(spans[1]!)).toEqual(["bulwark.refused"]);
    expect(spans[1]!.events[0]!.attributes).toMatchObject({ "bulwark.failure.kind": "breaker_open", "bulwark.stage": "admission", "bulwark.message": expect.stringContaining("flaky") });
    const agent = spans.find((s) => s.name === "invoke_agent ops")!;
    expect(events(agent)).toContain("bulwark.halt");
    expect(agent.events.find((e) => e.name === "bulwark.halt")!.attributes!["bulwark.reason"]).toMatch(/failed/);
    expect(agent.attributes["bulwark.run.mode"]).toBe("halted");
    expect(agent.status.code).toBe(SpanStatusCode.ERROR);
    expect(n).toBe(2);
    await rt.close();
  });

  it("approvals asked and decided, contradicted facts, lowered confidence, a handoff and a gate are events", async () => {
    const { exporter, tracer } = tracing();
    const rt = createRuntime({ telemetry: { tracer } });
    const run = rt.startRun({ agent: "support-bot", runId: "run-t" });
    const refund = defineTool({ name: "refund", effect: "write", approval: "always", execute: async () => "ok" });
    const a = await run.call(refund, { amount: 10 });
    expect(!a.ok && a.failure.kind).toBe("approval_required");
    const [req] = await rt.approvals.list();
    await rt.approvals.approve(req!.id, { by: "dana" });
    expect((await run.call(refund, { amount: 10 })).ok).toBe(true);
    const policyA = defineTool({ name: "faq", effect: "read", facts: () => [{ key: "bereavement.after_travel", value: true, source: "faq" }], execute: async () => "x" });
    const policyB = defineTool({ name: "policy_page", effect: "read", facts: () => [{ key: "bereavement.after_travel", value: false, source: "policy" }], execute: async () => "y" });
    await run.call(policyA, {});
    const c = await run.call(policyB, {});
    expect(!c.ok && c.failure.kind).toBe("contradiction");
    run.passGate("a person checked the refund");
    await run.end();
    const spans = exporter.getFinishedSpans();
    const named = (name: string) => spans.filter((s) => s.name === name);
    const [asked, decided] = named("execute_tool refund") as [ReadableSpan, ReadableSpan];
    expect(asked.events.map((e) => e.name)).toEqual(["bulwark.approval_requested", "bulwark.refused"]);
    expect(asked.events[1]!.attributes).toMatchObject({ "bulwark.failure.kind": "approval_required" });
    expect(decided.events.map((e) => e.name)).toEqual(["bulwark.approval_decided"]);
    expect(decided.events[0]!.attributes).toMatchObject({ "bulwark.approval.id": req!.id, "bulwark.approval.status": "approved", "bulwark.approval.by": "dana" });
    const contradicted = named("execute_tool policy_page")[0]!;
    expect(contradicted.events.map((e) => e.name)).toEqual(["bulwark.fact_contradicted", "bulwark.refused"]);
    expect(contradicted.events[0]!.attributes).toMatchObject({ "bulwark.fact.key": "bereavement.after_travel", "bulwark.fact.sources": ["faq", "policy"] });
    const agent = named("invoke_agent support-bot")[0]!;
    const names = agent.events.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(["bulwark.confidence_lowered", "bulwark.gate", "bulwark.handoff"]));
    const lowered = agent.events.filter((e) => e.name === "bulwark.confidence_lowered").map((e) => e.attributes!);
    expect(lowered).toContainEqual({ "bulwark.confidence": expect.any(Number), "bulwark.reason": expect.stringContaining("bereavement.after_travel") });
    expect(agent.events.find((e) => e.name === "bulwark.handoff")!.attributes).toMatchObject({ "bulwark.reason": expect.stringMatching(/^confidence 0\.\d+ fell below 0\.4 after policy_page/) });
    await rt.close();
  });

  it("records arguments and results only when asked, through the one content recorder", async () => {
    const { exporter, tracer } = tracing();
    const seen: string[] = [];
    const rt = createRuntime({
      telemetry: {
        tracer,
        recordContent: (value, what, tool) => {
          seen.push(`${tool}:${what}`);
          return JSON.stringify(value).replace(/\d{12,19}/g, "[card]");
        },
      },
    });
    const run = rt.startRun({ agent: "a" });
    const pay = defineTool({ name: "pay", effect: "write", execute: async (args: { card: string }) => ({ charged: args.card }) });
    await run.call(pay, { card: "4242424242424242" });
    await rt.close();
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes[conv.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]).toBe('{"card":"[card]"}');
    expect(span!.attributes[conv.ATTR_GEN_AI_TOOL_CALL_RESULT]).toBe('{"charged":"[card]"}');
    expect(seen).toEqual(["pay:arguments", "pay:result"]);

    const plain = tracing();
    const rt2 = createRuntime({ telemetry: { tracer: plain.tracer, recordContent: true } });
    await rt2.startRun({ agent: "a" }).call(pay, { card: "1" });
    await rt2.close(); // ends the run's span too
    const spans2 = plain.exporter.getFinishedSpans();
    expect(spans2.map((s) => s.name)).toEqual(["execute_tool pay", "invoke_agent a"]);
    expect(spans2[0]!.attributes[conv.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]).toBe('{"card":"1"}');
  });

  it("a replayed call says so", async () => {
    const { exporter, tracer } = tracing();
    const rt = createRuntime({ telemetry: { tracer } });
    const run = rt.startRun({ agent: "a" });
    const pay = defineTool({ name: "pay", effect: "write", execute: async () => "ok" });
    await run.call(pay, { n: 1 });
    await run.call(pay, { n: 1 });
    await rt.close();
    const [, again] = exporter.getFinishedSpans();
    expect(again!.events.map((e) => e.name)).toEqual(["bulwark.replayed"]);
    expect(again!.attributes["bulwark.replayed"]).toBe(true);
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
    expect(outer!.name).toBe("execute_tool fetch_policy");
    expect(inner!.name).toBe("GET /policy");
    expect(inner!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    await rt.close();
    context.disable();
  });

});

describe("telemetry: metrics", () => {
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
    let tries = 0;
    const flaky = defineTool({ name: "quote", effect: "read", retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, execute: async () => { if (++tries < 3) throw new Error("429"); return 1; } });
    expect((await run.call(flaky, {})).ok).toBe(true);
    const text = await registry.metrics();
    expect(text).toContain('bulwark_tool_call_retries_total{tool="quote"} 2');
    expect(text).toContain('bulwark_tool_call_duration_seconds_count{tool="pay",effect="write",outcome="ok"} 2');
    expect(text).toContain('bulwark_tool_call_replays_total{tool="pay"} 1');
    expect(text).toContain('bulwark_tool_call_failures_total{tool="inventory",kind="tool_error"} 2');
    expect(text).toContain('bulwark_breaker_state{tool="inventory",state="open"} 1');
    expect(text).toContain('bulwark_breaker_state{tool="inventory",state="closed"} 0');
    expect(text).toContain('bulwark_tool_calls_in_flight{tool="pay"} 0');
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
