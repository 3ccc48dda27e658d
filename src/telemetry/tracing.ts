/**
 * Traces on OpenTelemetry's GenAI conventions: one `invoke_agent {agent}` span per run
 * (per turn of a resumed run, in each process that takes it up) whose
 * `gen_ai.conversation.id` is the run id, and under it one `execute_tool {tool}` span per
 * guarded call. What Bulwark decided is told as span events named `bulwark.<decision>`,
 * at the moment it was decided (an attempt failed, a backoff, a breaker opened, a
 * refusal, a halt), so a trace explains a run without reading Bulwark's logs.
 * Spans go wherever the application's OpenTelemetry SDK sends them.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type Tracer } from "@opentelemetry/api";
import { canonicalJson } from "../canonical-json.js";
import type { Outcome } from "../failure.js";
import type { Effect } from "../tool.js";
import { redactArgs, redactText, redactValue, type RedactHook } from "../redact.js";

export const TRACER_NAME = "bulwark";

/**
 * The decisions told as span events (`bulwark.<name>`). Call-level ones land on the
 * call's span, run-level ones (mode changes, confidence, gates) on the run's span.
 */
export type DecisionName =
  | "attempt_failed"
  | "retry"
  | "breaker_opened"
  | "refused"
  | "replayed"
  | "approval_requested"
  | "approval_decided"
  | "fact_contradicted"
  | "gate"
  | "verdict"
  | "confidence_lowered"
  | "read_only"
  | "halt"
  | "handoff"
  | "observed";

/** Where a stage tells what it decided (see `Call.decisions`). */
export interface DecisionSink {
  decision(name: DecisionName, attributes?: Attributes): void;
}

/**
 * How a tool's arguments and result become span attributes when content recording is on:
 * the one place they pass. It is given them already redacted (the defaults, and the
 * tool's `redact` for arguments; see redact.ts), and may cut more.
 */
export type ContentRecorder = (value: unknown, what: "arguments" | "result", tool: string) => string | undefined;

/** JSON of the value, cut to 8 KiB (a span attribute is no place for a document). */
export const recordAsJson: ContentRecorder = (value) => {
  let text: string;
  try {
    text = canonicalJson(value);
  } catch {
    return undefined; // not JSON: nothing faithful to record
  }
  return text.length > MAX_CONTENT ? `${text.slice(0, MAX_CONTENT)}…` : text;
};
const MAX_CONTENT = 8 * 1024;

export function defaultTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

export interface RunFacts {
  runId: string;
  agent: string;
}

export interface CallFacts {
  tool: string;
  effect: Effect;
  /** Bulwark's id of the call. */
  callId: string;
  /** The model's id of the tool call, when the adapter knows it. */
  toolCallId?: string;
  description?: string;
  /** The tool's redaction hook, for recorded arguments. */
  redact?: RedactHook;
}

/** The run's span: made when the run starts, ended when it ends (or its runtime closes). */
export class RunSpan implements DecisionSink {
  private readonly span: Span;
  /** The run's span as a context, the parent of every call's span. */
  private readonly ctx: Context;
  private ended = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly run: RunFacts,
    private readonly content: ContentRecorder | undefined,
  ) {
    const parent = context.active();
    this.span = tracer.startSpan(
      `invoke_agent ${run.agent}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.name": run.agent,
          "gen_ai.conversation.id": run.runId,
          "bulwark.run.id": run.runId,
        },
      },
      parent,
    );
    this.ctx = trace.setSpan(parent, this.span);
  }

  decision(name: DecisionName, attributes?: Attributes): void {
    if (!this.ended) this.span.addEvent(`bulwark.${name}`, attributes);
  }

  /**
   * A call's span, a child of the run's span. The span active where the call was made
   * (the agent framework's own tool-call span, say) is linked, so both trees join. When
   * that span is the framework's span of this very tool call (its `gen_ai.tool.call.id` is
   * the call's, as AI SDK 7's OpenTelemetry integration makes them), Bulwark's span is its
   * child instead, in the framework's trace, and the run's span is linked.
   */
  startCall(c: CallFacts, args: unknown): CallSpan {
    const caller = trace.getSpan(context.active());
    const joins = caller !== undefined && c.toolCallId !== undefined && toolCallIdOf(caller) === c.toolCallId;
    const links: Link[] = joins ? [{ context: this.span.spanContext() }] : caller && caller !== this.span && caller.spanContext().traceId ? [{ context: caller.spanContext() }] : [];
    const attributes: Attributes = {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": c.tool,
      "gen_ai.tool.type": "function",
      "gen_ai.agent.name": this.run.agent,
      "gen_ai.conversation.id": this.run.runId,
      "bulwark.run.id": this.run.runId,
      "bulwark.call.id": c.callId,
      "bulwark.tool.effect": c.effect,
    };
    if (c.toolCallId !== undefined) attributes["gen_ai.tool.call.id"] = c.toolCallId;
    if (c.description !== undefined) attributes["gen_ai.tool.description"] = c.description;
    const span = this.tracer.startSpan(`execute_tool ${c.tool}`, { kind: SpanKind.INTERNAL, attributes, links }, joins ? context.active() : this.ctx);
    const recorded = this.content?.(redactArgs(args, c.redact), "arguments", c.tool);
    if (recorded !== undefined) span.setAttribute("gen_ai.tool.call.arguments", recorded);
    return new CallSpan(span, c.tool, this.content);
  }

  end(mode: string, reason?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttribute("bulwark.run.mode", mode);
    if (reason !== undefined) this.span.setAttribute("bulwark.run.reason", reason);
    if (mode === "halted" || mode === "handed_off") this.span.setStatus({ code: SpanStatusCode.ERROR, message: reason ?? mode });
    this.span.end();
  }
}

/**
 * The model's tool call id on a span, when the span shows its attributes (the
 * OpenTelemetry SDK's spans do: `ReadableSpan`); undefined for a span that does not.
 */
function toolCallIdOf(span: Span): unknown {
  const attributes = (span as Partial<{ attributes: Attributes }>).attributes;
  return typeof attributes === "object" && attributes !== null ? attributes["gen_ai.tool.call.id"] : undefined;
}

export class CallSpan implements DecisionSink {
  constructor(
    private readonly span: Span,
    private readonly tool: string,
    private readonly content: ContentRecorder | undefined,
  ) {}

  decision(name: DecisionName, attributes?: Attributes): void {
    this.span.addEvent(`bulwark.${name}`, attributes);
  }

  /** Run `fn` with the call's span active, so that spans the tool makes (HTTP, database) nest under it. */
  within<T>(fn: () => T): T {
    return context.with(trace.setSpan(context.active(), this.span), fn);
  }

  end(outcome: Outcome<unknown>, attempts: number): void {
    const s = this.span;
    s.setAttribute("bulwark.replayed", outcome.replayed === true);
    s.setAttribute("bulwark.attempts", attempts);
    if (outcome.ok) {
      s.setAttribute("bulwark.outcome", "ok");
      const recorded = this.content?.(redactValue(outcome.value), "result", this.tool);
      if (recorded !== undefined) s.setAttribute("gen_ai.tool.call.result", recorded);
    } else {
      const { kind, message, stage } = outcome.failure;
      s.setAttribute("bulwark.outcome", kind);
      s.setAttribute("error.type", kind);
      if (stage !== undefined) s.setAttribute("bulwark.stage", stage);
      // Error text is redacted where it is made; once more here, as spans leave the process.
      s.setStatus({ code: SpanStatusCode.ERROR, message: redactText(message) });
    }
    s.end();
  }
}
