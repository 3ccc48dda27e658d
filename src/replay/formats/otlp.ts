/**
 * OpenTelemetry traces as OTLP JSON (an OTLP/HTTP JSON body, or the collector's file
 * exporter: one such body per line). The tool calls are the GenAI `execute_tool` spans:
 * `gen_ai.tool.name`, the arguments and result in `gen_ai.tool.call.arguments` /
 * `gen_ai.tool.call.result` (recorded only when content recording is on), a span with
 * status ERROR a failed call. Spans are grouped into runs by `gen_ai.conversation.id`
 * (Bulwark sets it to the run id, across the turns of a resumed run), else by trace, and
 * ordered by start time. A span that cannot be replayed (no arguments, arguments that are
 * not JSON) is reported by its span id and left out of its run.
 */
import { isObject, type InputProblem, type Recording, type RecordedCall } from "../recording.js";

/** Whether `doc` looks like an OTLP traces body. */
export function isOtlp(doc: unknown): boolean {
  return isObject(doc) && Array.isArray(doc.resourceSpans);
}

interface Span {
  traceId: string;
  spanId: string;
  name: string;
  start: number;
  attributes: Record<string, unknown>;
  status: { code?: number | string; message?: string };
}

/** Read OTLP bodies (parsed, each with where it came from) into runs. */
export function readOtlp(docs: { where: string; doc: unknown }[], problems: InputProblem[] = []): Recording {
  const groups = new Map<string, { agent?: string; calls: { start: number; call: RecordedCall }[] }>();
  for (const { where, doc } of docs) {
    for (const span of spansOf(doc, where, problems)) {
      if (span.attributes["gen_ai.operation.name"] !== "execute_tool") continue;
      const call = callOf(span);
      if (typeof call === "string") {
        problems.push({ where: `span ${span.spanId}`, message: call });
        continue;
      }
      const conversation = span.attributes["gen_ai.conversation.id"];
      const runId = typeof conversation === "string" && conversation ? conversation : span.traceId;
      let group = groups.get(runId);
      if (!group) groups.set(runId, (group = { calls: [] }));
      const agent = span.attributes["gen_ai.agent.name"];
      if (typeof agent === "string") group.agent ??= agent;
      group.calls.push({ start: span.start, call });
    }
  }
  const runs = [...groups].map(([runId, g]) => ({
    where: `trace ${runId}`,
    run: { runId, ...(g.agent ? { agent: g.agent } : {}), calls: g.calls.sort((a, b) => a.start - b.start).map((c) => c.call) },
  }));
  return { runs, problems };
}

function callOf(span: Span): RecordedCall | string {
  const a = span.attributes;
  const tool = a["gen_ai.tool.name"] ?? span.name.replace(/^execute_tool /, "");
  if (typeof tool !== "string" || tool.length === 0) return "execute_tool span without gen_ai.tool.name";
  const rawArgs = a["gen_ai.tool.call.arguments"];
  if (typeof rawArgs !== "string") return `execute_tool span of ${tool} has no gen_ai.tool.call.arguments (turn content recording on to replay it)`;
  let args: unknown;
  try {
    args = JSON.parse(rawArgs);
  } catch {
    return `the gen_ai.tool.call.arguments of ${tool} are not JSON (cut short?): ${rawArgs.slice(0, 40)}`;
  }
  const at = Math.floor(span.start);
  if (span.status.code === 2 || span.status.code === "STATUS_CODE_ERROR") {
    const kind = a["bulwark.outcome"] ?? a["error.type"];
    const refusedLive = typeof kind === "string" && kind !== "tool_error" && kind !== "timeout" && a["bulwark.outcome"] !== undefined;
    const message = span.status.message || (typeof kind === "string" ? kind : "the call failed");
    // A call Bulwark refused when it was recorded never ran: there is no result to give back.
    return { tool, args, error: refusedLive ? `not run when recorded (${kind}): ${message}` : message, at };
  }
  const rawResult = a["gen_ai.tool.call.result"];
  let result: unknown = null;
  if (typeof rawResult === "string") {
    try {
      result = JSON.parse(rawResult);
    } catch {
      result = rawResult; // a plain-text result, or one cut short: the text is what the model saw
    }
  }
  return { tool, args, result, at };
}

function* spansOf(doc: unknown, where: string, problems: InputProblem[]): Generator<Span> {
  if (!isOtlp(doc)) {
    problems.push({ where, message: "not an OTLP traces body (no resourceSpans)" });
    return;
  }
  for (const rs of (doc as { resourceSpans: unknown[] }).resourceSpans) {
    for (const ss of arrayAt(rs, "scopeSpans")) {
      for (const s of arrayAt(ss, "spans")) {
        if (!isObject(s) || typeof s.spanId !== "string" || typeof s.traceId !== "string") {
          problems.push({ where, message: `a span without traceId or spanId: ${JSON.stringify(s)?.slice(0, 60)}` });
          continue;
        }
        yield {
          traceId: s.traceId,
          spanId: s.spanId,
          name: typeof s.name === "string" ? s.name : "",
          start: Number(s.startTimeUnixNano ?? 0) / 1e6,
          attributes: attributesOf(s.attributes),
          status: isObject(s.status) ? (s.status as Span["status"]) : {},
        };
      }
    }
  }
}

function arrayAt(v: unknown, key: string): unknown[] {
  return isObject(v) && Array.isArray(v[key]) ? v[key] : [];
}

function attributesOf(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(list)) for (const kv of list) if (isObject(kv) && typeof kv.key === "string") out[kv.key] = anyValue(kv.value);
  return out;
}

/** An OTLP AnyValue as a plain value. */
function anyValue(v: unknown): unknown {
  if (!isObject(v)) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("arrayValue" in v) return arrayAt(v.arrayValue, "values").map(anyValue);
  if ("kvlistValue" in v) return attributesOf(arrayAt(v.kvlistValue, "values"));
  return undefined;
}
