/**
 * Traces: one span per guarded call, on OpenTelemetry's GenAI conventions for tool
 * execution (`execute_tool {tool}`, gen_ai.operation.name, gen_ai.tool.name,
 * gen_ai.tool.call.id, error.type), with Bulwark's own attributes for what it decided
 * (outcome kind, replay, attempts, run). Spans go wherever the application's
 * OpenTelemetry SDK sends them; without an SDK the API's no-op tracer costs next to nothing.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { Outcome } from "../failure.js";
import type { Effect } from "../tool.js";

export const TRACER_NAME = "bulwark";

export interface CallFacts {
  tool: string;
  effect: Effect;
  callId: string;
  runId: string;
  agent: string;
}

export function defaultTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** Start a call's span as a child of whatever span is active (the agent's step). */
export function startCallSpan(tracer: Tracer, c: CallFacts): Span {
  return tracer.startSpan(
    `execute_tool ${c.tool}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": c.tool,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": c.callId,
        "gen_ai.agent.name": c.agent,
        "bulwark.run.id": c.runId,
        "bulwark.tool.effect": c.effect,
      },
    },
    context.active(),
  );
}

export function endCallSpan(span: Span, outcome: Outcome<unknown>, attempts: number) {
  span.setAttribute("bulwark.replayed", outcome.replayed === true);
  span.setAttribute("bulwark.attempts", attempts);
  if (outcome.ok) {
    span.setAttribute("bulwark.outcome", "ok");
  } else {
    span.setAttribute("bulwark.outcome", outcome.failure.kind);
    span.setAttribute("error.type", outcome.failure.kind);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failure.message });
  }
  span.end();
}

/** Run `fn` with `span` active, so that spans the tool makes (HTTP, database) nest under it. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}
