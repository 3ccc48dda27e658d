/**
 * The `steps` of an AI SDK `generateText` / `streamText` result, saved as JSON
 * (`JSON.stringify(result.steps)`). Each step's `content` holds the model's tool calls and,
 * matched by `toolCallId`, their results (`tool-result`) or errors (`tool-error`). An
 * error object saves as `{}`, so its text is taken from the tool message the model was
 * sent (`response.messages`, an `error-text` or `error-json` output). A tool call with
 * neither (a tool without `execute`) is reported and left out.
 */
import { isObject, type InputProblem, type RecordedCall } from "../recording.js";

/** Whether `v` looks like saved steps: an array of objects with a `content` array. */
export function isSteps(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.length > 0 && v.every((s) => isObject(s) && Array.isArray(s.content));
}

/** The calls in `steps`, in the order the model made them; problems are reported under `where`. */
export function callsOfSteps(steps: unknown[], where: string, problems: InputProblem[]): RecordedCall[] {
  const calls: RecordedCall[] = [];
  for (const [i, step] of steps.entries()) {
    if (!isObject(step) || !Array.isArray(step.content)) {
      problems.push({ where: `${where}, step ${i}`, message: "not an AI SDK step (no content array)" });
      continue;
    }
    const parts = step.content.filter(isObject);
    const timestamp = isObject(step.response) && typeof step.response.timestamp === "string" ? step.response.timestamp : undefined;
    const at = timestamp && Number.isFinite(Date.parse(timestamp)) ? { at: timestamp } : {};
    for (const part of parts.filter((p) => p.type === "tool-call")) {
      const id = part.toolCallId;
      const place = `${where}, step ${i}, tool call ${String(id)}`;
      if (typeof part.toolName !== "string" || !("input" in part)) {
        problems.push({ where: place, message: "a tool call without toolName or input" });
        continue;
      }
      const settled = parts.find((p) => p.toolCallId === id && (p.type === "tool-result" || p.type === "tool-error"));
      if (!settled) {
        problems.push({ where: place, message: `${part.toolName} has no tool-result or tool-error in its step (a tool without execute?)` });
        continue;
      }
      calls.push(
        settled.type === "tool-result"
          ? { tool: part.toolName, args: part.input, result: settled.output ?? null, ...at }
          : { tool: part.toolName, args: part.input, error: errorText(step, id, settled.error), ...at },
      );
    }
  }
  return calls;
}

/** The error the model was told, else the saved error's message, else a plain word. */
function errorText(step: Record<string, unknown>, id: unknown, error: unknown): string {
  const messages = isObject(step.response) && Array.isArray(step.response.messages) ? step.response.messages : [];
  for (const m of messages) {
    if (!isObject(m) || m.role !== "tool" || !Array.isArray(m.content)) continue;
    for (const p of m.content) {
      if (!isObject(p) || p.toolCallId !== id || !isObject(p.output)) continue;
      const { type, value } = p.output;
      if (type === "error-text" && typeof value === "string") return value;
      if (type === "error-json") return JSON.stringify(value);
    }
  }
  if (typeof error === "string") return error;
  if (isObject(error) && typeof error.message === "string") return error.message;
  return "the tool failed (its error was not saved)";
}
