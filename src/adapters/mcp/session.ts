/**
 * One MCP session through the proxy, guarded: its tools (listed from the server, all
 * pages, again when the server says they changed) and one Bulwark run for the whole
 * conversation. Every `tools/call` goes through that run; what comes back is the server's
 * own answer when the server answered (a result, an `isError` result, a JSON-RPC error),
 * or Bulwark's refusal as a result with `isError: true`. A person's approval is asked in
 * the client through elicitation when the client can show it (and, over HTTP with tokens,
 * the session's token may decide: its name is who the approval is recorded as); in the
 * stateless era (2026-07-28), which has no requests to the client, as the call's
 * `input_required` result, decided by the call sent again with the answer. A server's own
 * `input_required` is an unfinished call (see `mcpTool`): relayed, its claim released.
 */
import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import { failures, type Outcome, type PolicyInput, type Run, type Runtime } from "../../index.js";
import type { Principal } from "../../server/auth.js";
import { CLIENT_CAPABILITIES_KEY, clientNameOf, envelopeOf, formElicitation, isInputRequired, retryFields, type Envelope } from "./era.js";
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

export class GuardedSession {
  private toolset: Promise<McpToolset> | undefined;
  private run: Run | undefined;
  /** The client's name (its initialize's, or its first request's envelope's). */
  private client: string | undefined;
  private readonly caller: McpCaller;
  /**
   * The client's side of each call in flight, by its JSON-RPC id, which `run.call` is given
   * as the call's `toolCallId` and hands to the tool's `execute`. (Not AsyncLocalStorage:
   * on Node 20 it hooks every promise of the process, some 10–30 µs a call.)
   */
  private readonly calls = new Map<string, ClientCall>();

  constructor(
    private readonly relay: Relay,
    private readonly o: SessionOptions,
  ) {
    this.caller = async (params, { signal, timeout, toolCallId }) => {
      const call = toolCallId === undefined ? undefined : this.calls.get(toolCallId);
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
    // Answers to Bulwark's own questions (approvals, in the stateless era) are Bulwark's; the rest go to the server.
    const { decisions, inputResponses } = ownAnswers(params.inputResponses);
    const call: ClientCall = { meta: params._meta as Record<string, unknown> | undefined, signal, retry: retryFields({ ...params, inputResponses }) };
    const run = this.theRun(envelope);
    // Only from someone who may decide: a "read" token's holder is never asked, and may not answer unasked.
    if (this.mayDecide) for (const [approvalId, reply] of decisions) await this.decide(approvalId, reply, tool.name);
    let outcome = await this.callWith(call, id, () => run.call(tool, args, { toolCallId: String(id) }));
    if (!outcome.ok && outcome.failure.kind === "approval_required" && this.mayDecide) {
      const approvalId = outcome.failure.detail?.approvalId as string | undefined;
      // The stateless era has no requests to the client: the question goes back as the call's
      // input_required result, once (dismissed, it is not asked again: approval_required stands).
      const ask = approvalId !== undefined && formElicitation(envelope?.[CLIENT_CAPABILITIES_KEY]) && !decisions.some(([answered]) => answered === approvalId);
      if (envelope) return ask ? { result: approvalInput(name, args, approvalId!) } : answer(outcome, call);
      if (this.relay.clientCanElicit) outcome = await this.askClient(name, tool, args, outcome, call, id);
    }
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
      const client = (this.client = this.relay.clientInfo?.name ?? clientNameOf(envelope));
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
    let reply: ApprovalReply;
    try {
      reply = await this.relay.requestDown("elicitation/create", approvalQuestion(name, args, approvalId), { signal: call.signal, relatedTo: id });
    } catch (e) {
      this.o.log(`could not ask the client to approve ${name}: ${e instanceof Error ? e.message : String(e)}`);
      return outcome;
    }
    if (!(await this.decide(approvalId, reply, tool.name))) return outcome;
    return this.callWith(call, id, () => this.theRun().call(tool, args, { toolCallId: String(id) }));
  }

  /** `work` (a `run.call` given `id` as its `toolCallId`), with the client's side of the call where the caller finds it. */
  private async callWith<T>(call: ClientCall, id: RequestId, work: () => Promise<T>): Promise<T> {
    this.calls.set(String(id), call);
    try {
      return await work();
    } finally {
      this.calls.delete(String(id));
    }
  }

  /**
   * The person's reply to an approval question of this run's, for `tool`, made the
   * approval's decision: whether it was one (a dismissed question, or one not of this
   * run's, decides nothing).
   */
  private async decide(approvalId: string, reply: ApprovalReply, tool: string): Promise<boolean> {
    const approval = await this.o.rt.approvals.get(approvalId);
    if (approval?.runId !== this.run?.id || approval?.tool !== tool) {
      this.o.log(`an answer to approval ${approvalId}, which is not one of this run's for ${tool}, was ignored`);
      return false;
    }
    // A token's name when the session has one (as `bulwark serve` records decisions), else the client's.
    const by = this.o.who?.name ?? `mcp client ${this.client ?? "(unnamed)"}`;
    try {
      if (reply.action === "accept" && reply.content?.approve === true) await this.o.rt.approvals.approve(approvalId, { by });
      else if (reply.action === "accept" || reply.action === "decline") await this.o.rt.approvals.deny(approvalId, { by, reason: "declined in the MCP client" });
      else return false;
    } catch (e) {
      // Decided meanwhile by someone else: the repeat reads that decision.
      this.o.log(`approval ${approvalId}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return true;
  }
}

type ApprovalReply = { action?: string; content?: { approve?: unknown } };

/** The key prefix of Bulwark's own input requests in an `input_required` result: the approval's id follows. */
const APPROVAL_INPUT = "bulwark/approval/";

/** The question that asks a person to approve a call (an elicitation's parameters). */
function approvalQuestion(name: string, args: McpArgs, approvalId: string) {
  return {
    message: `${name} needs your approval before it runs.\nArguments: ${preview(args)}\n(Bulwark approval request ${approvalId})`,
    requestedSchema: { type: "object", properties: { approve: { type: "boolean", title: `Run ${name}`, description: "Approve this call", default: false } }, required: ["approve"] },
  };
}

/** The question as the stateless era asks it: the call's result, to be answered by the same call again. */
function approvalInput(name: string, args: McpArgs, approvalId: string): Record<string, unknown> {
  return { resultType: "input_required", inputRequests: { [`${APPROVAL_INPUT}${approvalId}`]: { method: "elicitation/create", params: { mode: "form", ...approvalQuestion(name, args, approvalId) } } } };
}

/** A retry's answers split: Bulwark's approvals (by approval id), and what is the server's. */
function ownAnswers(responses: unknown): { decisions: [string, ApprovalReply][]; inputResponses?: Record<string, unknown> } {
  if (typeof responses !== "object" || responses === null) return { decisions: [] };
  const decisions: [string, ApprovalReply][] = [];
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(responses)) {
    if (key.startsWith(APPROVAL_INPUT)) decisions.push([key.slice(APPROVAL_INPUT.length), (value ?? {}) as ApprovalReply]);
    else rest[key] = value;
  }
  return { decisions, ...(Object.keys(rest).length > 0 ? { inputResponses: rest } : {}) };
}

/** What the client gets: the server's own answer when it gave one, else Bulwark's. */
function answer(outcome: Outcome<CallToolResult>, call: ClientCall): Answer {
  if (outcome.ok || !call.upstream) return { result: toCallToolResult(outcome) as Record<string, unknown> };
  const { kind, retryable } = outcome.failure;
  // The server's request for input goes to the client as it is: the call is not over.
  if (kind === "input_required" && "result" in call.upstream && isInputRequired(call.upstream.result)) return { result: call.upstream.result };
  if (kind !== "tool_error") return { result: toCallToolResult(outcome) as Record<string, unknown> };
  if ("error" in call.upstream) return { error: call.upstream.error };
  const result = call.upstream.result;
  return { result: { ...result, _meta: { ...result._meta, [FAILURE_META_KEY]: { kind, retryable, callId: outcome.callId } } } };
}

function preview(args: McpArgs): string {
  const text = JSON.stringify(args);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
