/**
 * `bulwark/mcp`: the tools of an MCP server, guarded. `mcpTools(client)` lists the server's
 * tools and makes a Bulwark tool of each, so that `run.call` gives them retries, keys,
 * breakers, freezes, budgets and approvals; `bulwark proxy` is built on it.
 *
 * What comes from the server, and what a caller may override per tool:
 * - effect, from the annotations: `readOnlyHint` → read, `destructiveHint` → destructive,
 *   anything else → write.
 * - retries: a read or an `idempotentHint` tool is retried (a second attempt cannot add an
 *   effect); other mutations are not, because an MCP server cannot be handed an
 *   idempotency key it is bound to honour, so a retry after a lost response could repeat
 *   the effect. The key still deduplicates repeats within Bulwark (they replay), and is
 *   offered to the server in the request's `_meta` as `bulwark/idempotency-key`.
 * - input: the tool's JSON Schema is checked before the call (with the MCP SDK's own Ajv
 *   validator, so no extra dependency) and a bad call is `invalid_input`, which the model
 *   can fix, instead of a server error; a schema the validator cannot compile is left to
 *   the server.
 * - output: when the tool declares an `outputSchema`, its `structuredContent` must match
 *   it, or the call is `invalid_output`.
 * - a result with `isError: true` is a `tool_error` with the server's text, not retried
 *   unless `retryErrorResults` says so.
 *
 * `toCallToolResult` turns a call's outcome back into an MCP result (a failure is a result
 * with `isError: true`, its message as text); `mcpProxy` serves a guarded MCP server on
 * stdio, and is what `bulwark proxy` runs.
 */
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type Tool as McpToolDefinition,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { JsonSchemaType, jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
import type { StandardSchemaV1 } from "../index.js";
import {
  createRuntime,
  defineTool,
  failures,
  redactText,
  ToolError,
  type BreakerOptions,
  type Effect,
  type Failure,
  type Outcome,
  type PolicyInput,
  type RetryOptions,
  type Run,
  type Runtime,
  type Tool,
} from "../index.js";

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
}

export interface McpToolsOptions {
  /** Per-tool overrides, by the tool's MCP name. */
  tools?: Record<string, McpToolOverride>;
  /** Put before each Bulwark tool name (breakers and keys are scoped by it): e.g. "memory." [""]. */
  prefix?: string;
  /** Check arguments against the tool's input schema before calling [true]. */
  validateInput?: boolean;
  /** Options for every request (e.g. `onprogress`); the signal and timeout are Bulwark's. */
  requestOptions?: Omit<RequestOptions, "signal" | "timeout">;
}

export interface McpToolset {
  /** Guarded tools by MCP name. */
  tools: Record<string, McpTool>;
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
  const definitions = await listAllTools(client);
  const unknown = Object.keys(options.tools ?? {}).filter((n) => !definitions.some((d) => d.name === n));
  if (unknown.length > 0)
    throw new TypeError(`mcpTools: overrides name tools the server does not have: ${unknown.join(", ")} (it has ${definitions.map((d) => d.name).join(", ") || "none"})`);
  const validator = new AjvJsonSchemaValidator();
  const tools: Record<string, McpTool> = {};
  for (const d of definitions) tools[d.name] = mcpTool(client, d, options.tools?.[d.name], { ...options, validator });
  return { tools, definitions };
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

/** The effect an MCP tool declares through its annotations. */
export function effectOf(definition: Pick<McpToolDefinition, "annotations">): Effect {
  const a = definition.annotations;
  if (a?.readOnlyHint === true) return "read";
  if (a?.destructiveHint === true) return "destructive";
  return "write";
}

/** Guard one MCP tool of a connected client. */
export function mcpTool(
  client: Client,
  definition: McpToolDefinition,
  override: McpToolOverride = {},
  options: Omit<McpToolsOptions, "tools"> & { validator?: jsonSchemaValidator } = {},
): McpTool {
  const mcpName = definition.name;
  const effect = override.effect ?? effectOf(definition);
  const safeToRepeat = effect === "read" || definition.annotations?.idempotentHint === true;
  const validator = options.validator ?? new AjvJsonSchemaValidator();
  const input = options.validateInput === false ? undefined : jsonSchema(validator, definition.inputSchema, []);
  const structured = definition.outputSchema ? jsonSchema(validator, definition.outputSchema, ["structuredContent"]) : undefined;
  const retryErrorResults = override.retryErrorResults ?? false;
  let timeoutMs = 0;

  const tool: McpTool = defineTool<McpArgs, CallToolResult>({
    name: bulwarkName(`${options.prefix ?? ""}${mcpName}`),
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    effect,
    ...(input ? { input: standard<McpArgs>(input) } : {}),
    ...(structured ? { output: outputSchema(structured) } : {}),
    ...(override.timeoutMs !== undefined ? { timeoutMs: override.timeoutMs } : {}),
    retry: override.retry ?? (safeToRepeat ? {} : false),
    // A repeat of an idempotent tool adds no effect: safe to retry even when the outcome is unknown.
    ...(safeToRepeat && effect !== "read" ? { idempotent: true } : {}),
    ...(override.breaker !== undefined ? { breaker: override.breaker } : {}),
    ...(override.concurrency !== undefined ? { concurrency: override.concurrency } : {}),
    ...(override.approval !== undefined ? { approval: override.approval } : {}),
    async execute(args, ctx) {
      const params = {
        name: mcpName,
        arguments: args ?? {},
        ...(ctx.idempotencyKey !== undefined ? { _meta: { [IDEMPOTENCY_META_KEY]: ctx.idempotencyKey } } : {}),
      };
      let result: CallToolResult;
      try {
        // `request`, not `callTool`: the client's own output check throws, which would make
        // a malformed answer a retried error instead of an `invalid_output` failure.
        result = (await client.request({ method: "tools/call", params }, CallToolResultSchema, {
          ...options.requestOptions,
          signal: ctx.signal,
          // Bulwark's timeout (the signal) decides; the SDK's own must not fire first.
          timeout: timeoutMs * 2 + 1_000,
        })) as CallToolResult;
      } catch (e) {
        throw asToolError(e, mcpName);
      }
      if (result.isError) throw new ToolError(`the server answered with an error: ${textOf(result) || "(no text)"}`, { retryable: retryErrorResults });
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

// Bulwark tool names are 1 to 128 of [A-Za-z0-9_.:-]; MCP names are nearly that.
function bulwarkName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 128);
  return safe.length > 0 ? safe : "_";
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

type Check = (value: unknown) => StandardSchemaV1.Issue[] | undefined;

/**
 * A JSON Schema as a check that gives issues with paths, or undefined when the validator
 * cannot compile it (then the server is the judge).
 */
function jsonSchema(validator: jsonSchemaValidator, schema: unknown, at: PropertyKey[]): Check | undefined {
  let validate: ReturnType<jsonSchemaValidator["getValidator"]>;
  try {
    validate = validator.getValidator(schema as JsonSchemaType);
  } catch {
    return undefined;
  }
  return (value) => {
    const r = validate(value);
    return r.valid ? undefined : ajvIssues(r.errorMessage, at);
  };
}

/** Ajv's "data/a/0 must be string, data must have required property 'b'" as issues with paths. */
function ajvIssues(text: string, at: PropertyKey[]): StandardSchemaV1.Issue[] {
  return text.split(/, (?=data[/ ])/).map((part) => {
    const m = /^data((?:\/[^ ]*)?) (.*)$/s.exec(part);
    if (!m) return { message: part, ...(at.length ? { path: at } : {}) };
    const segments = (m[1] ?? "")
      .split("/")
      .filter((s) => s !== "")
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
    const path = [...at, ...segments];
    return { message: m[2] ?? part, ...(path.length ? { path } : {}) };
  });
}

function standard<T>(check: (value: unknown) => StandardSchemaV1.Issue[] | undefined): StandardSchemaV1<unknown, T> {
  return {
    "~standard": {
      version: 1,
      vendor: "bulwark-mcp",
      validate: (value) => {
        const issues = check(value);
        return issues ? { issues } : { value: value as T };
      },
    },
  };
}

function outputSchema(structured: Check): StandardSchemaV1<unknown, CallToolResult> {
  return standard<CallToolResult>((value) => {
    const result = value as CallToolResult;
    if (result.structuredContent === undefined)
      return [{ message: "the tool declares an output schema but returned no structured content", path: ["structuredContent"] }];
    return structured(result.structuredContent);
  });
}

// ---------------------------------------------------------------- the proxy

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
})();

export interface McpProxyOptions {
  /** The MCP server to start as a child: its command and arguments. */
  command: string[];
  /** Bulwark's store. */
  store: string;
  /** The base policy of the proxy's run. */
  policy?: PolicyInput;
  /** Per-tool overrides, by MCP name. */
  tools?: Record<string, McpToolOverride>;
  /** Put before each Bulwark tool name [""]. */
  prefix?: string;
  /** The run's agent [the client's name, or "mcp-proxy"]. */
  agent?: string;
  /** The run's id [a fresh one]. */
  runId?: string;
  /** Where the options came from, put before the errors they cause (e.g. "policy file proxy.yaml"). */
  source?: string;
  /** Where the proxy's own lines go [stderr: stdout carries the protocol]. */
  log?: (line: string) => void;
}

/**
 * An MCP server on this process's stdio in front of another: it runs the real server as
 * a child, lists its tools (annotations and schemas as they are) and sends every
 * `tools/call` through one Bulwark run per proxy session. A refused or failed call comes
 * back as a tool result with `isError: true` (`toCallToolResult`); the child dying answers
 * the call, it never hangs. Resolves once serving; the process exits when the client
 * goes away or on SIGINT/SIGTERM.
 */
export async function mcpProxy(options: McpProxyOptions): Promise<void> {
  const [command, ...args] = options.command;
  if (!command) throw new Error("give the MCP server's command after --");
  // Every line without credentials: a store URL's password, a token in a store error.
  const write = options.log ?? ((line: string) => process.stderr.write(`bulwark proxy: ${line}\n`));
  const log = (line: string) => write(redactText(line));
  const source = (e: unknown) => new Error(`${options.source ? `${options.source}: ` : ""}${e instanceof Error ? e.message : String(e)}`);
  let rt: Runtime;
  try {
    rt = createRuntime({ store: options.store, ...(options.policy !== undefined ? { policy: options.policy } : {}), onError: (e) => log(`store: ${e instanceof Error ? e.message : String(e)}`) });
    await rt.ready();
  } catch (e) {
    throw source(e);
  }

  // The child: its stderr is ours (stdout carries the protocol); it gets our environment.
  const env = Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  const upstream = new Client({ name: "bulwark-proxy", version: VERSION });
  const serverName = [command, ...args].join(" ");
  try {
    await upstream.connect(new StdioClientTransport({ command, args, env, stderr: "inherit" }));
  } catch (e) {
    await rt.close();
    throw new Error(`could not start the MCP server \`${serverName}\`: ${e instanceof Error ? e.message : String(e)}`);
  }
  let shuttingDown = false;
  upstream.onclose = () => {
    if (shuttingDown) return;
    log(`the MCP server \`${serverName}\` has exited; calls now fail until the proxy is restarted`);
  };

  const guard = async (): Promise<McpToolset> => {
    try {
      return await mcpTools(upstream, { ...(options.tools !== undefined ? { tools: options.tools } : {}), ...(options.prefix !== undefined ? { prefix: options.prefix } : {}) });
    } catch (e) {
      throw source(e);
    }
  };
  let toolset: McpToolset;
  try {
    toolset = await guard();
  } catch (e) {
    await upstream.close().catch(() => {});
    await rt.close();
    throw e;
  }

  const server = new Server(
    { name: "bulwark-proxy", version: VERSION },
    { capabilities: { tools: { listChanged: true } }, ...(upstream.getInstructions() ? { instructions: upstream.getInstructions()! } : {}) },
  );

  // One run per proxy session: a stdio proxy serves exactly one client connection, so its
  // keys, budgets, approvals and chain breaker span that client's whole conversation.
  let run: Run | undefined;
  const theRun = () => {
    if (!run) {
      run = rt.startRun({ agent: options.agent ?? server.getClientVersion()?.name ?? "mcp-proxy", ...(options.runId ? { runId: options.runId } : {}) });
      log(`run ${run.id} for ${server.getClientVersion()?.name ?? "an MCP client"}, store ${options.store}`);
    }
    return run;
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: toolset.definitions }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const name = request.params.name;
    const tool = toolset.tools[name];
    if (!tool) return failureResult(failures.unknownTool(name, Object.keys(toolset.tools)));
    return toCallToolResult(await theRun().call(tool, request.params.arguments ?? {}));
  });

  // The child's tool list changed: guard the new list, and tell our client.
  upstream.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    try {
      toolset = await guard();
      await server.sendToolListChanged();
    } catch (e) {
      log(`could not reload the tool list: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    await run?.end().catch(() => {});
    await upstream.close().catch(() => {});
    await rt.close().catch(() => {});
    process.exit(code);
  };
  process.once("SIGINT", () => void shutdown(130));
  process.once("SIGTERM", () => void shutdown(143));
  server.onclose = () => void shutdown(0);
  await server.connect(new StdioServerTransport());
  process.stdin.once("end", () => void shutdown(0));
  log(`serving ${toolset.definitions.length} tools of \`${serverName}\``);
}
