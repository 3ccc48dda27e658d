/**
 * One MCP session through the proxy, guarded: its tools (listed from the server, all
 * pages, again when the server says they changed) and one Bulwark run for the whole
 * conversation. Every `tools/call` goes through that run; what comes back is the server's
 * own answer when the server answered (a result, an `isError` result, a JSON-RPC error),
 * or Bulwark's refusal as a result with `isError: true`. A person's approval is asked in
 * the client through elicitation when the client can show it (and, over HTTP with tokens,
 * the session's token may decide: its name is who the approval is recorded as).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import { failures, type Outcome, type PolicyInput, type Run, type Runtime } from "../../index.js";
import type { Principal } from "../../server/auth.js";
import { clientNameOf, envelopeOf, isInputRequired, retryFields, type Envelope } from "./era.js";
import { UpstreamError, type Answer, type Relay, type RpcError } from "./relay.js";
import {
  FAILURE_META_KEY,
  failureResult,
  guardTools,
  toCallToolResult,
  type CallToolResult,
  type McpArgs,
  type McpCaller,
  type McpTool,
  type McpToolDefinition,
  type McpToolOverrides,
  type McpToolset,
} from "./tools.js";

/** What a session's guard is told: its run and its tools (the proxy's options say it once). */
export interface GuardOptions {
  /** The run policy of each session, over `PROXY_RUN_DEFAULTS`. */
  policy?: PolicyInput;
  /** Per-tool overrides, by MCP name. */
  tools?: McpToolOverrides;
  /** Put before each Bulwark tool name [""]. */
  prefix?: string;
  /** The run's agent [the client's name, or "mcp-proxy"]. */
  agent?: string;
  /** The run's id [a fresh one per session]. */
  runId?: string;
  /** Where the options came from, put before the errors they cause (e.g. "policy file proxy.yaml"). */
  source?: string;
  /**
   * A check of the server's tools, each time they are listed, before they are guarded: the
   * problems it returns (each a whole message, e.g. a policy file's line) stop the session
   * as the overrides' own check does.
   */
  checkTools?: (definitions: readonly McpToolDefinition[]) => string[];
}

export interface SessionOptions extends GuardOptions {
  rt: Runtime;
  log: (line: string) => void;
  /** The holder of the token the session was opened with (HTTP with tokens): who an approval is recorded as, if their role may decide. */
  who?: Principal;
}

/** The client's side of one guarded call, which Bulwark's run does not carry. */
interface ClientCall {
  /** The client's `_meta` (its progress token): the server gets it. */
  meta: Record<string, unknown> | undefined;
  /** Aborts when the client cancels. */
  signal: AbortSignal;
  /** The client's answers to the server's `input_required` (MCP 2026-07-28): they go with the call. */
  retry: Record<string, unknown>;
  /** What the server answered, when it answered with an error or asked for input. */
  upstream?: { error: RpcError } | { result: CallToolResult };
}

/** The problems `checkTools` found: whole messages, reported as they are. */
class ToolsRefused extends Error {}

// Bulwark calls `execute` inside `run.call`; the client's side of that call reaches it here.
const clientCall = new AsyncLocalStorage<ClientCall>();

export class GuardedSession {
  private toolset: Promise<McpToolset> | undefined;
  private run: Run | undefined;
  private readonly caller: McpCaller;

  constructor(
    private readonly relay: Relay,
    private readonly o: SessionOptions,
  ) {
    this.caller = async (params, { signal, timeout }) => {
      const call = clientCall.getStore();
      if (call) call.upstream = undefined; // an earlier attempt's answer is not this one's
      const meta = call?.meta ? { ...call.meta, ...params._meta } : params._meta;
      try {
        const result = (await relay.requestUp("tools/call", { ...params, ...call?.retry, ...(meta ? { _meta: meta } : {}) }, { signals: call ? [signal, call.signal] : [signal], timeout })) as CallToolResult;
        if ((result.isError || isInputRequired(result)) && call) call.upstream = { result };
        // The era's word for a final result is the wire's, not the tool's: a recorded result
        // replays to clients of either era (the relay says it again to those of 2026-07-28).
        if (result.resultType === "complete") {
          const { resultType: _final, ...value } = result;
          return value as CallToolResult;
        }
        return result;
      } catch (e) {
        if (e instanceof UpstreamError && call) call.upstream = { error: e.rpc };
        throw e;
      }
    };
  }

  /**
   * The guarded tools; listed once, and again after the server's list changed. In the
   * stateless era (2026-07-28) the list is asked with the envelope of the client's
   * request that needs it, as the server requires of every request.
   */
  tools(envelope?: Envelope): Promise<McpToolset> {
    this.toolset ??= this.list(envelope).catch((e: unknown) => {
      this.toolset = undefined;
      if (e instanceof ToolsRefused) throw new Error(e.message);
      throw new Error(`${this.o.source ? `${this.o.source}: ` : ""}${e instanceof Error ? e.message : String(e)}`);
    });
    return this.toolset;
  }

  toolsChanged(): void {
    const before = this.toolset;
    this.toolset = undefined;
    this.tools().catch((e: unknown) => {
      this.o.log(`could not reload the tool list: ${e instanceof Error ? e.message : String(e)}`);
      this.toolset = before;
    });
  }

  async toolCall(params: Record<string, unknown>, signal: AbortSignal, id: RequestId): Promise<Answer> {
    const name = String(params.name);
    const envelope = envelopeOf(params);
    const { tools } = await this.tools(envelope);
    const tool = tools.get(name);
    if (!tool) return { result: failureResult(failures.unknownTool(name, [...tools.keys()])) as Record<string, unknown> };
    const args = (params.arguments ?? {}) as McpArgs;
    const call: ClientCall = { meta: params._meta as Record<string, unknown> | undefined, signal, retry: retryFields(params) };
    let outcome = await clientCall.run(call, () => this.theRun(envelope).call(tool, args, { toolCallId: String(id) }));
    if (!outcome.ok && outcome.failure.kind === "approval_required" && this.relay.clientCanElicit && this.mayDecide) outcome = await this.askClient(name, tool, args, outcome, call, id);
    return answer(outcome, call);
  }

  /** Whether the person in the client may approve: anyone without tokens; with them, a "decide" token's holder. */
  private get mayDecide(): boolean {
    return this.o.who === undefined || this.o.who.role === "decide";
  }

  async end(): Promise<void> {
    await this.run?.end().catch(() => {});
  }

  private async list(envelope: Envelope | undefined): Promise<McpToolset> {
    const definitions: McpToolDefinition[] = [];
    let cursor: string | undefined;
    do {
      const page = (await this.relay.requestUp("tools/list", { ...(cursor === undefined ? {} : { cursor }), ...(envelope ? { _meta: envelope } : {}) }, { timeout: 60_000 })) as { tools?: McpToolDefinition[]; nextCursor?: string };
      definitions.push(...(page.tools ?? []));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const problems = this.o.checkTools?.(definitions) ?? [];
    if (problems.length > 0) throw new ToolsRefused(problems.join("\n"));
    const set = guardTools(definitions, this.caller, { ...(this.o.tools !== undefined ? { tools: this.o.tools } : {}), ...(this.o.prefix !== undefined ? { prefix: this.o.prefix } : {}) });
    // The gate's `verification_required` names the reads that pass it, from the runtime's
    // tools: known before they are first called, the model is told which to call.
    for (const t of set.tools.values()) {
      if (t.spec.verifies === undefined) continue;
      try {
        this.o.rt.registerTools(t);
      } catch {
        // another session's tool of that name is known: the same override, the same reads
      }
    }
    return set;
  }

  // One run per session: its keys, budgets, approvals and chain breaker span the conversation.
  private theRun(envelope?: Envelope): Run {
    if (!this.run) {
      const client = this.relay.clientInfo?.name ?? clientNameOf(envelope);
      this.run = this.o.rt.startRun({ agent: this.o.agent ?? client ?? "mcp-proxy", ...(this.o.runId ? { runId: this.o.runId } : {}), ...(this.o.policy ? { policy: this.o.policy } : {}) });
      this.o.log(`run ${this.run.id} for ${client ?? "an MCP client"}`);
    }
    return this.run;
  }

  /**
   * A person's decision asked in the client (elicitation): accepted with approve → the
   * approval is granted and the call repeated; declined or accepted without → denied (the
   * repeat says so); dismissed, or a client that fails to ask → `approval_required` stands.
   */
  private async askClient(name: string, tool: McpTool, args: McpArgs, outcome: Outcome<CallToolResult>, call: ClientCall, id: RequestId): Promise<Outcome<CallToolResult>> {
    const approvalId = (outcome.ok ? undefined : outcome.failure.detail?.approvalId) as string | undefined;
    if (approvalId === undefined) return outcome;
    let reply: { action?: string; content?: { approve?: unknown } };
    try {
      reply = await this.relay.requestDown(
        "elicitation/create",
        {
          message: `${name} needs your approval before it runs.\nArguments: ${preview(args)}\n(Bulwark approval request ${approvalId})`,
          requestedSchema: { type: "object", properties: { approve: { type: "boolean", title: `Run ${name}`, description: "Approve this call", default: false } }, required: ["approve"] },
        },
        { signal: call.signal, relatedTo: id },
      );
    } catch (e) {
      this.o.log(`could not ask the client to approve ${name}: ${e instanceof Error ? e.message : String(e)}`);
      return outcome;
    }
    // A token's name when the session has one (as `bulwark serve` records decisions), else the client's.
    const by = this.o.who?.name ?? `mcp client ${this.relay.clientInfo?.name ?? "(unnamed)"}`;
    try {
      if (reply.action === "accept" && reply.content?.approve === true) await this.o.rt.approvals.approve(approvalId, { by });
      else if (reply.action === "accept" || reply.action === "decline") await this.o.rt.approvals.deny(approvalId, { by, reason: "declined in the MCP client" });
      else return outcome;
    } catch (e) {
      // Decided meanwhile by someone else: the repeat reads that decision.
      this.o.log(`approval ${approvalId}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return clientCall.run(call, () => this.theRun().call(tool, args));
  }
}

/** What the client gets: the server's own answer when it gave one, else Bulwark's. */
function answer(outcome: Outcome<CallToolResult>, call: ClientCall): Answer {
  if (outcome.ok || outcome.failure.kind !== "tool_error" || !call.upstream) return { result: toCallToolResult(outcome) as Record<string, unknown> };
  if ("error" in call.upstream) return { error: call.upstream.error };
  const result = call.upstream.result;
  // The server's request for input goes to the client as it is: the call is not over.
  if (isInputRequired(result)) return { result };
  const { kind, retryable } = outcome.failure;
  return { result: { ...result, _meta: { ...result._meta, [FAILURE_META_KEY]: { kind, retryable, callId: outcome.callId } } } };
}

function preview(args: McpArgs): string {
  const text = JSON.stringify(args);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
