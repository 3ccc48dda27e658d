/**
 * What the framework adapters (AI SDK, OpenAI Agents, LangChain) share: the failure value
 * the model receives, the options every guarded tool takes, and how a framework's own
 * approval step meets Bulwark's durable approvals. Uses only Bulwark's public API.
 */
import type { Effect, Failure, FailureKind, Run, StandardSchemaV1, Tool, ToolSpec } from "../index.js";

/**
 * What the model receives when a guarded call fails or is refused.
 *
 * A failure is returned as the tool's result, not thrown. A thrown error reaches the model
 * as each framework's error text (shaped differently by each, indistinguishable from the
 * framework's own errors, often replaced by a generic "an error occurred"); a result
 * keeps the stable `error` kind and `retryable` next to the message written for the model
 * (what happened, what to do instead), and is what the design asks for: failures are
 * values the agent loop hands straight back.
 */
export interface ToolFailure {
  /** Bulwark's failure kind: machine-readable and stable. */
  error: FailureKind;
  /** Written for the model: what happened, and what to do instead. */
  message: string;
  /** Whether the same call may succeed if repeated later. */
  retryable: boolean;
}

/** Whether a tool result is a guarded call's failure. */
export function isToolFailure(output: unknown): output is ToolFailure {
  if (typeof output !== "object" || output === null) return false;
  const o = output as Record<string, unknown>;
  return typeof o.error === "string" && typeof o.message === "string" && typeof o.retryable === "boolean" && Object.keys(o).length === 3;
}

export function toolFailure(f: Failure): ToolFailure {
  return { error: f.kind, message: f.message, retryable: f.retryable };
}

/**
 * How Bulwark guards one framework tool: its effect, which has no default, and any of
 * `defineTool`'s options (timeoutMs, retry, breaker, concurrency, idempotencyKey, check,
 * verify, facts, compensate, checkpoint, approval, rules).
 *
 * `effect` is required because no default is safe. Defaulting to "read" would let a
 * payment or a deletion through a freeze, without an idempotency key, a destructive
 * budget or a read-back, silently; defaulting to "write" would replay reads from the
 * idempotency record (stale answers) and block them during freezes. Only the author of
 * the tool knows, so the type asks for it.
 */
export type GuardOptions<I, O> = Omit<ToolSpec<I, O>, "name" | "effect" | "execute" | "input" | "output"> & {
  effect: Effect;
  /** Bulwark's name for the tool (idempotency keys, breakers, approvals, traces) [the tool's own name]. */
  name?: string;
  /** Validation of the model's arguments [the tool's own schema, when it is a Standard Schema]; false for none. */
  input?: StandardSchemaV1<unknown, I> | false;
  /** Validation of the tool's response [the tool's output schema, when it is a Standard Schema]; false for none. */
  output?: StandardSchemaV1<unknown, O> | false;
};

/**
 * A mutation is retried only if asked: the framework's execute gets the idempotency key
 * only if it reads `bulwarkContext(…)`, so a retry after a lost response could repeat the
 * effect.
 */
export function retryDefault(options: { effect: Effect; retry?: unknown }): { retry: false } | object {
  return options.effect !== "read" && options.retry === undefined ? { retry: false as const } : {};
}

export function isStandardSchema(s: unknown): s is StandardSchemaV1 {
  return (typeof s === "object" || typeof s === "function") && s !== null && typeof (s as StandardSchemaV1)["~standard"]?.validate === "function";
}

/** Whether the tool's own policy may ask a person (then the framework's approval step is wired to it). */
export function mayAsk(tool: Tool): boolean {
  return tool.spec.approval !== undefined && tool.spec.approval !== "never";
}

/** A person's answer given in the framework (a chat UI, an interruption resolved in code). */
export interface FrameworkAnswer {
  approved: boolean;
  by: string;
  reason?: string;
}

/**
 * The framework asks whether this call needs a person. Yes while Bulwark's request for
 * it is pending (the framework then asks the person and pauses). When the framework comes
 * back with the person's answer, the answer is recorded on the request and the framework
 * is told yes again, so that it applies the answer itself (some treat a no at that point
 * as "no approval was needed" and would drop a denial); the call's own approval stage has
 * the last word. A request already decided in Bulwark (the dashboard, the CLI, another
 * process) needs no one: the call goes through, or gets approval_denied as its result.
 */
export async function needsPerson(run: Run, tool: Tool, input: unknown, answer?: FrameworkAnswer): Promise<boolean> {
  try {
    const request = await run.approval(tool, input, answer);
    return answer !== undefined || request?.status === "pending";
  } catch {
    // The store cannot be reached: the call itself fails closed as store_unavailable.
    return answer !== undefined;
  }
}

/** The Bulwark tools of a `guardTools` call, by key, each made once by `make`. */
export function bulwarkTools<K extends string, S>(specs: Record<K, S>, make: (key: K, spec: S) => Tool): Record<K, Tool> {
  if (!specs || typeof specs !== "object") throw new TypeError("guardTools expects { name: { tool, effect, …options } }");
  const tools = {} as Record<K, Tool>;
  for (const [key, spec] of Object.entries(specs) as [K, S][]) {
    if (!spec || typeof spec !== "object") throw new TypeError(`guardTools: ${JSON.stringify(key)} expects { tool, effect, …options }`);
    tools[key] = make(key, spec);
  }
  return tools;
}

/** `.for(run)` was given a Run. */
export function checkRun(run: unknown): asserts run is Run {
  if (!run || typeof (run as Partial<Run>).call !== "function") throw new TypeError("guardTools(…).for(run) expects a Run (rt.startRun(…))");
}
