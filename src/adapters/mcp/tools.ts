/**
 * The tools of an MCP server as Bulwark tools (the client wrapper of `bulwark/mcp`).
 *
 * What comes from the server, and what a caller may override per tool:
 * - effect, from the annotations as the specification defines their defaults:
 *   `readOnlyHint: true` → read; otherwise `destructiveHint` (true unless said false) →
 *   destructive; a tool that says `destructiveHint: false` → write. An unannotated tool is
 *   destructive.
 * - retries: a read or an `idempotentHint` tool is retried (a second attempt cannot add an
 *   effect); other mutations are not, because an MCP server cannot be handed an
 *   idempotency key it is bound to honour, so a retry after a lost response could repeat
 *   the effect. The key still deduplicates repeats within Bulwark (they replay), and is
 *   offered to the server in the request's `_meta` as `bulwark/idempotency-key`.
 * - input: the tool's JSON Schema is checked before the call (with `jsonSchema`, Bulwark's
 *   JSON Schema validator, on the Ajv the MCP SDK brings: draft 2020-12 or draft-07, the
 *   arguments never changed) and a bad call is `invalid_input`, which the model can fix,
 *   instead of a server error; a schema that does not compile is left to the server.
 * - output: when the tool declares an `outputSchema`, its `structuredContent` must match
 *   it, or the call is `invalid_output`.
 * - a result with `isError: true` is a `tool_error` with the server's text, not retried
 *   unless `retryErrorResults` says so.
 * - the name: MCP names map one to one onto Bulwark names (names.ts).
 * - rules, verifies and escalation only from the caller: MCP has no words for them.
 * Names come from outside (a server, a client, a policy file): they live in Maps, never as
 * keys of plain objects, so `__proto__` or `constructor` are names like any other.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { CallToolResultSchema, ErrorCode, McpError, type CallToolRequest, type CallToolResult, type Tool as McpToolDefinition } from "@modelcontextprotocol/sdk/types.js";
import { defineTool, jsonSchema, ToolError, type BreakerOptions, type Effect, type Failure, type Outcome, type RetryOptions, type StandardSchemaV1, type Tool, type ToolRule } from "../../index.js";
import { bulwarkToolName } from "./names.js";

export type { McpToolDefinition, CallToolResult };

/** The arguments of an MCP tool call: a JSON object. */
export type McpArgs = Record<string, unknown>;

/** A guarded MCP tool: its value is the server's `CallToolResult` (content, structuredContent). */
export type McpTool = Tool<McpArgs, CallToolResult>;

/** What a caller (or a proxy's policy file) may say about one tool, over what the server says. */
export interface McpToolOverride {
  effect?: Effect;
  timeoutMs?: number;
  retry?: Partial<RetryOptions> | false;
  breaker?: Partial<BreakerOptions> | false;
  concurrency?: number;
  approval?: "always" | "never" | ((args: McpArgs) => boolean);
  /** Retry a result with `isError: true` like a thrown error [false: the server has answered]. */
  retryErrorResults?: boolean;
  /** Policy rules on this tool's arguments, checked before the call (see decide/rules.ts). */
  rules?: ToolRule<McpArgs>[];
  /**
   * On a read tool: the writes it reads back, by MCP name (given the same prefix), or a
   * predicate of its arguments and a write, whose `tool` is then the Bulwark name. A call
   * of it after those writes passes the verification gate (`maxUnverifiedDepth`).
   */
  verifies?: readonly string[] | ((args: McpArgs, write: { tool: string; args: unknown }) => boolean);
  /** The way to a person: allowed in every mode, halted included; calling it hands the run off. */
  escalation?: boolean;
}

/** Per-tool overrides by MCP name: a Map, or a plain object's own keys. */
export type McpToolOverrides = ReadonlyMap<string, McpToolOverride> | Record<string, McpToolOverride>;

/**
 * How a guarded tool reaches its server: one `tools/call` request. `mcpTools(client)` uses
 * the SDK client's; the proxy its own connection, with the caller's `_meta` and signal.
 */
export type McpCaller = (params: CallToolRequest["params"], options: { signal: AbortSignal; timeout: number; toolCallId?: string | undefined }) => Promise<CallToolResult>;

export interface McpToolsOptions {
  /** Per-tool overrides, by the tool's MCP name. */
  tools?: McpToolOverrides;
  /** Put before each Bulwark tool name (breakers and keys are scoped by it): e.g. "memory." [""]. */
  prefix?: string;
  /** Check arguments against the tool's input schema before calling [true]. */
  validateInput?: boolean;
  /** Options for every request (e.g. `onprogress`); the signal and timeout are Bulwark's. */
  requestOptions?: Omit<RequestOptions, "signal" | "timeout">;
}

export interface McpToolset {
  /** Guarded tools by MCP name. */
  tools: Map<string, McpTool>;
  /** The server's definitions, as listed (annotations, schemas), in its order. */
  definitions: McpToolDefinition[];
}

/** The `_meta` key under which a mutating call offers its idempotency key to the server. */
export const IDEMPOTENCY_META_KEY = "bulwark/idempotency-key";

/** The `_meta` key of a failed call's result: `{ kind, retryable, callId }` for programs. */
export const FAILURE_META_KEY = "bulwark/failure";

/** The `_meta` key of a guarded call's result: `{ callId, replayed }`. */
export const CALL_META_KEY = "bulwark/call";

/**
 * A guarded call's outcome as an MCP tool result: the server's result with the call's id
 * in `_meta`, or a failure as `isError: true` with the failure's message as its text.
 */
export function toCallToolResult(outcome: Outcome<CallToolResult>): CallToolResult {
  if (outcome.ok) return { ...outcome.value, _meta: { ...outcome.value._meta, [CALL_META_KEY]: { callId: outcome.callId, replayed: outcome.replayed } } };
  return failureResult(outcome.failure, outcome.callId);
}

/** A failure as an MCP tool result with `isError: true`. */
export function failureResult({ kind, message, retryable }: Failure, callId?: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true, _meta: { [FAILURE_META_KEY]: { kind, retryable, ...(callId !== undefined ? { callId } : {}) } } };
}

/** List every tool of a connected client (all pages) and guard each. */
export async function mcpTools(client: Client, options: McpToolsOptions = {}): Promise<McpToolset> {
  return guardTools(await listAllTools(client), clientCaller(client, options.requestOptions), options);
}

/** The `tools/call` of an SDK client as a caller. */
export function clientCaller(client: Client, requestOptions?: McpToolsOptions["requestOptions"]): McpCaller {
  // `request`, not `callTool`: the client's own output check throws, which would make a
  // malformed answer a retried error instead of an `invalid_output` failure.
  return async (params, { signal, timeout }) =>
    (await client.request({ method: "tools/call", params }, CallToolResultSchema, { ...requestOptions, signal, timeout })) as CallToolResult;
}

/** Guard every listed tool; overrides must name listed tools. */
export function guardTools(definitions: McpToolDefinition[], caller: McpCaller, options: Omit<McpToolsOptions, "requestOptions"> = {}): McpToolset {
  const overrides = asMap(options.tools);
  const listed = new Set(definitions.map((d) => d.name));
  const unknown = [...overrides.keys()].filter((n) => !listed.has(n));
  if (unknown.length > 0)
    throw new TypeError(`overrides name tools the server does not have: ${unknown.join(", ")} (it has ${[...listed].join(", ") || "none"})`);
  for (const [name, o] of overrides) {
    const missing = Array.isArray(o.verifies) ? o.verifies.filter((n) => !listed.has(n)) : [];
    if (missing.length > 0) throw new TypeError(`${name}: verifies names tools the server does not have: ${missing.join(", ")} (it has ${[...listed].join(", ")})`);
  }
  const tools = new Map<string, McpTool>();
  const byBulwarkName = new Map<string, string>();
  for (const d of definitions) {
    const tool = mcpTool(caller, d, overrides.get(d.name), options);
    // Names are one to one (names.ts) unless a server lists one name twice.
    const clash = byBulwarkName.get(tool.name);
    if (clash !== undefined) throw new TypeError(`the server lists the tool ${JSON.stringify(d.name)} twice`);
    byBulwarkName.set(tool.name, d.name);
    tools.set(d.name, tool);
  }
  return { tools, definitions };
}

function asMap<V>(m: ReadonlyMap<string, V> | Record<string, V> | undefined): ReadonlyMap<string, V> {
  if (m === undefined) return new Map();
  return m instanceof Map ? m : new Map(Object.entries(m));
}

/** Every page of `tools/list`. */
export async function listAllTools(client: Client, requestOptions?: RequestOptions): Promise<McpToolDefinition[]> {
  const all: McpToolDefinition[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor }, requestOptions);
    all.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return all;
}

/**
 * The effect an MCP tool declares through its annotations, with the specification's
 * defaults: `readOnlyHint` false, `destructiveHint` true. So a tool that says nothing is
 * destructive, and only `destructiveHint: false` makes a mutating tool a plain write.
 */
export function effectOf(definition: Pick<McpToolDefinition, "annotations">): Effect {
  const a = definition.annotations;
  if (a?.readOnlyHint === true) return "read";
  return a?.destructiveHint === false ? "write" : "destructive";
}

/** Guard one MCP tool, called through `caller` (e.g. `clientCaller(client)`). */
export function mcpTool(
  caller: McpCaller,
  definition: McpToolDefinition,
  override: McpToolOverride = {},
  options: Pick<McpToolsOptions, "prefix" | "validateInput"> = {},
): McpTool {
  const mcpName = definition.name;
  const effect = override.effect ?? effectOf(definition);
  const safeToRepeat = effect === "read" || definition.annotations?.idempotentHint === true;
  const input = options.validateInput === false ? undefined : compiled<McpArgs>(definition.inputSchema);
  const structured = definition.outputSchema ? compiled(definition.outputSchema) : undefined;
  const retryErrorResults = override.retryErrorResults ?? false;
  let timeoutMs = 0;

  const tool: McpTool = defineTool<McpArgs, CallToolResult>({
    name: bulwarkToolName(mcpName, options.prefix),
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    effect,
    ...(input ? { input } : {}),
    ...(structured ? { output: outputSchema(structured) } : {}),
    ...(override.timeoutMs !== undefined ? { timeoutMs: override.timeoutMs } : {}),
    retry: override.retry ?? (safeToRepeat ? {} : false),
    // A repeat of an idempotent tool adds no effect: safe to retry even when the outcome is unknown.
    ...(safeToRepeat && effect !== "read" ? { idempotent: true } : {}),
    ...(override.breaker !== undefined ? { breaker: override.breaker } : {}),
    ...(override.concurrency !== undefined ? { concurrency: override.concurrency } : {}),
    ...(override.approval !== undefined ? { approval: override.approval } : {}),
    ...(override.rules !== undefined ? { rules: override.rules } : {}),
    ...(override.verifies !== undefined ? { verifies: Array.isArray(override.verifies) ? override.verifies.map((n: unknown) => (typeof n === "string" ? bulwarkToolName(n, options.prefix) : n)) as string[] : override.verifies } : {}),
    ...(override.escalation !== undefined ? { escalation: override.escalation } : {}),
    async execute(args, ctx) {
      const params = {
        name: mcpName,
        arguments: args ?? {},
        ...(ctx.idempotencyKey !== undefined ? { _meta: { [IDEMPOTENCY_META_KEY]: ctx.idempotencyKey } } : {}),
      };
      let result: CallToolResult;
      try {
        // Bulwark's timeout (the signal) decides; the transport's own must not fire first.
        result = await caller(params, { signal: ctx.signal, timeout: timeoutMs * 2 + 1_000, toolCallId: ctx.toolCallId });
      } catch (e) {
        throw asToolError(e, mcpName);
      }
      if (result.isError) throw new ToolError(`the server answered with an error: ${textOf(result) || "(no text)"}`, { retryable: retryErrorResults });
      // Not a result yet (MCP 2026-07-28): the server asks the client for input first, and
      // acts when the call comes again with the answers. Bulwark's input_required: not
      // retried unanswered, its claim released, so that repeat (the same arguments, the same
      // key) is the same call, and neutral to the run's accounting.
      if (result.resultType === "input_required") throw new ToolError("the server asks the client for input (MCP input_required): answer it", { inputRequired: true });
      return result;
    },
  });
  timeoutMs = tool.timeoutMs;
  return tool;
}

/** The text parts of a result, joined: what a model reads. */
export function textOf(result: Pick<CallToolResult, "content">): string {
  return (result.content ?? [])
    .filter((c): c is { type: "text"; text: string } => c.type === "text")
    .map((c) => c.text)
    .join("\n")
    .trim();
}

function asToolError(e: unknown, tool: string): ToolError {
  if (e instanceof ToolError) return e;
  if (e instanceof McpError) {
    switch (e.code) {
      case ErrorCode.ConnectionClosed:
        return new ToolError(`the MCP server closed the connection during the call (it exited or crashed), so the effect of ${tool} is unknown`, { retryable: false, effectUnknown: true, cause: e });
      case ErrorCode.RequestTimeout:
        return new ToolError(`the MCP server did not answer in time`, { retryable: true, effectUnknown: true, cause: e });
      case ErrorCode.InvalidParams:
      case ErrorCode.MethodNotFound:
      case ErrorCode.InvalidRequest:
        return new ToolError(`the MCP server refused the call: ${e.message}`, { retryable: false, cause: e });
      default:
        return new ToolError(`the MCP server failed: ${e.message}`, { retryable: true, cause: e });
    }
  }
  const message = e instanceof Error ? e.message : String(e);
  if (/not connected/i.test(message))
    return new ToolError(`the MCP server is not connected (it has exited); ${tool} was not called`, { retryable: false, cause: e });
  return new ToolError(message, { retryable: true, cause: e });
}

/** The server's JSON Schema as a Standard Schema, or undefined when it does not compile (then the server is the judge). */
function compiled<T = unknown>(schema: unknown): StandardSchemaV1<unknown, T> | undefined {
  try {
    return jsonSchema<T>(schema as object);
  } catch (e) {
    if (e instanceof TypeError) return undefined;
    throw e;
  }
}

/** The result's `structuredContent` checked against the tool's output schema; the result itself passes through. */
function outputSchema(structured: StandardSchemaV1): StandardSchemaV1<unknown, CallToolResult> {
  return {
    "~standard": {
      version: 1,
      vendor: "bulwark-mcp",
      validate: (value) => {
        const result = value as CallToolResult;
        if (result.structuredContent === undefined)
          return { issues: [{ message: "the tool declares an output schema but returned no structured content", path: ["structuredContent"] }] };
        // jsonSchema validates synchronously (Ajv).
        const checked = structured["~standard"].validate(result.structuredContent) as StandardSchemaV1.Result<unknown>;
        if (!checked.issues) return { value: result };
        return { issues: checked.issues.map((i) => ({ message: i.message, path: ["structuredContent", ...(i.path ?? [])] })) };
      },
    },
  };
}
