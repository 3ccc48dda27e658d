/**
 * The proxy's wiring: JSON-RPC messages between an MCP client and an MCP server, relayed
 * as they are, in both directions (requests, results, errors and notifications of every
 * method, `_meta` included), except `tools/call`, which the guard answers (session.ts).
 * Only ids change: each side's requests get ids the relay allocates, so that its own
 * requests (the guard's `tools/list` and `tools/call`, an approval asked through
 * elicitation) never collide with relayed ones, and a cancellation names the right one.
 * The stateless protocol (2026-07-28, era.ts) goes the same way: its probe, `server/discover`,
 * to the server, whose offer comes back narrowed to the revisions the proxy relays; the
 * guard's answers to a request of the era say `resultType: "complete"`.
 *
 * Over streamable HTTP a server's message belongs on the stream of the client request it
 * relates to; the upstream does not say which that is, so a progress notification goes
 * with the request that holds its progress token, and anything else with the latest
 * client request still in flight (or the standalone stream when none is).
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  McpError,
  type ClientCapabilities,
  type Implementation,
  type JSONRPCMessage,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import { ToolError } from "../../index.js";
import { complete, discoverResult, envelopeOf, formElicitation, type Envelope } from "./era.js";
import { OversizedMessage } from "./line-transport.js";

/** A JSON-RPC error object, as the other side sent it. */
export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

/** The answer to a request: a result or an error, as JSON-RPC carries them. */
export type Answer = { result: Record<string, unknown> } | { error: RpcError };

/** An error answer from the upstream, kept whole so that it can be relayed unchanged. */
export class UpstreamError extends McpError {
  constructor(readonly rpc: RpcError) {
    super(rpc.code, rpc.message, rpc.data);
    this.name = "UpstreamError";
  }
}

export interface RelayHooks {
  /** A client's `tools/call`, answered by the guard. Its signal aborts when the client cancels. */
  toolCall(params: Record<string, unknown>, signal: AbortSignal, id: RequestId): Promise<Answer>;
  /**
   * The client has finished initializing, or sent its first request of the stateless era
   * (whose envelope the guard's own requests then carry): the guard may now use the upstream.
   */
  initialized?(envelope?: Envelope): void;
  /** The server said its tools changed (the notification is relayed too). */
  toolsChanged?(): void;
  /** Something worth a line in the proxy's log. */
  log(line: string): void;
}

type Pending = { relayOf: RequestId } | { resolve: (result: Record<string, unknown>) => void; reject: (e: Error) => void };
interface ClientCall {
  upId?: number;
  abort?: AbortController;
  progressToken?: unknown;
  /** A server notification went with this call: its answer waits a turn (see `toClient`). */
  notified?: boolean;
  /** The client's `server/discover`: the server's offer is narrowed to what the proxy relays. */
  discover?: boolean;
}

type Message = { jsonrpc: "2.0"; id?: RequestId; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: RpcError };

export class Relay {
  clientCapabilities: ClientCapabilities = {};
  clientInfo: Implementation | undefined;
  private nextUp = 0;
  private nextDown = 0;
  private readonly upPending = new Map<RequestId, Pending>();
  private readonly downPending = new Map<RequestId, Pending>();
  private readonly clientCalls = new Map<RequestId, ClientCall>();
  private readonly serverCalls = new Map<RequestId, number>();
  private upClosed = false;
  private started = false;

  constructor(
    private readonly down: Transport,
    private readonly up: Transport,
    private readonly hooks: RelayHooks,
  ) {
    down.onmessage = (m) => this.fromClient(m as Message);
    up.onmessage = (m) => this.fromServer(m as Message);
    up.onerror = (e) => this.upstreamError(e);
    up.onclose = () => this.upstreamClosed();
    down.onerror = (e) => hooks.log(`client connection: ${e.message}`);
  }

  /** Whether a request of the client's is waiting for its answer. */
  get busy(): boolean {
    return this.clientCalls.size > 0;
  }

  /** Whether the client can be asked for input (form elicitation). */
  get clientCanElicit(): boolean {
    return formElicitation(this.clientCapabilities);
  }

  /** A request of the proxy's own to the server, cancelled when any of `signals` aborts. Rejects with `UpstreamError` for an error answer. */
  requestUp(method: string, params: Record<string, unknown>, options: { signals?: readonly AbortSignal[]; timeout?: number } = {}): Promise<Record<string, unknown>> {
    if (this.upClosed) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, "the MCP server is not connected (it has exited)"));
    return this.own(this.upPending, ++this.nextUp, this.up, { method, params }, options);
  }

  /** A request of the proxy's own to the client, on the stream of the client's request `relatedTo`. */
  requestDown(method: string, params: Record<string, unknown>, options: { signal?: AbortSignal; relatedTo?: RequestId } = {}): Promise<Record<string, unknown>> {
    const { signal, ...rest } = options;
    return this.own(this.downPending, ++this.nextDown, this.down, { method, params }, { ...rest, ...(signal ? { signals: [signal] } : {}) });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.up.close(), this.down.close()]);
  }

  private own(
    pending: Map<RequestId, Pending>,
    id: number,
    to: Transport,
    request: { method: string; params: Record<string, unknown> },
    { signals = [], timeout, relatedTo }: { signals?: readonly AbortSignal[]; timeout?: number; relatedTo?: RequestId },
  ): Promise<Record<string, unknown>> {
    // A listener on each signal, not AbortSignal.any: that costs a tool call tens of microseconds.
    for (const signal of signals) signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener("abort", onAbort);
        f(v);
      };
      const cancel = (reason: unknown) => {
        if (!pending.delete(id)) return;
        void to.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: String(reason) } }).catch(() => {});
        settle(reject)(reason instanceof Error ? reason : new Error(String(reason)));
      };
      const onAbort = (e: Event) => cancel((e.target as AbortSignal).reason);
      pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      for (const signal of signals) signal.addEventListener("abort", onAbort, { once: true });
      if (timeout !== undefined) timer = setTimeout(() => cancel(new McpError(ErrorCode.RequestTimeout, `no answer to ${request.method} in ${timeout} ms`)), timeout);
      to.send({ jsonrpc: "2.0", id, ...request }, relatedTo !== undefined ? { relatedRequestId: relatedTo } : undefined).catch((e: unknown) => {
        if (pending.delete(id)) settle(reject)(e instanceof Error ? e : new Error(String(e)));
      });
    });
  }

  private fromClient(m: Message) {
    if (m.method !== undefined && m.id !== undefined) return this.clientRequest(m as Message & { id: RequestId; method: string });
    if (m.method !== undefined) return this.clientNotification(m);
    if (m.id !== undefined) this.answer(this.downPending, m, this.up, (from) => this.serverCalls.delete(from));
  }

  private clientRequest(m: Message & { id: RequestId; method: string }) {
    const id = m.id;
    const call: ClientCall = { progressToken: (m.params?._meta as { progressToken?: unknown } | undefined)?.progressToken };
    const envelope = envelopeOf(m.params);
    if (m.method === "initialize") {
      this.clientCapabilities = (m.params?.capabilities as ClientCapabilities | undefined) ?? {};
      this.clientInfo = m.params?.clientInfo as Implementation | undefined;
    }
    // The probe of the stateless protocol (2026-07-28) goes to the server: its answer says
    // whether the client and the proxy speak that era (then every request carries its
    // envelope, see era.ts) or the client falls back to initialize (a server without it).
    if (m.method === "server/discover") call.discover = true;
    else if (!this.started && envelope) {
      // The era's first request after the probe: the client and the server speak it.
      this.started = true;
      this.hooks.initialized?.(envelope);
    }
    if (m.method === "tools/call") {
      call.abort = new AbortController();
      this.clientCalls.set(id, call);
      // In the stateless era every result says whether it is final; the guard's own are.
      const stateless = envelope !== undefined;
      this.hooks
        .toolCall(m.params ?? {}, call.abort.signal, id)
        .catch((e: unknown): Answer => ({ error: { code: ErrorCode.InternalError, message: e instanceof Error ? e.message : String(e) } }))
        .then((answer) => {
          // A call the client cancelled gets no answer (the specification's rule).
          if (this.clientCalls.get(id) !== call) return;
          this.clientCalls.delete(id);
          this.answerClient(call, { jsonrpc: "2.0", id, ...(stateless && "result" in answer ? { result: complete(answer.result) } : answer) });
        });
      return;
    }
    if (this.upClosed) return this.toClient({ jsonrpc: "2.0", id, error: { code: ErrorCode.ConnectionClosed, message: "the MCP server behind the proxy has exited" } }, id);
    call.upId = ++this.nextUp;
    this.clientCalls.set(id, call);
    this.upPending.set(call.upId, { relayOf: id });
    this.up.send({ ...m, id: call.upId } as JSONRPCMessage).catch((e: unknown) => {
      if (this.upPending.delete(call.upId!)) this.toClient({ jsonrpc: "2.0", id, error: { code: ErrorCode.ConnectionClosed, message: `the MCP server could not be reached: ${e instanceof Error ? e.message : String(e)}` } }, id);
    });
  }

  private clientNotification(m: Message) {
    if (m.method === "notifications/cancelled") {
      const requestId = m.params?.requestId as RequestId;
      const call = this.clientCalls.get(requestId);
      if (!call) {
        // The client cancels a request of the server's that we relayed.
        const down = [...this.serverCalls].find(([, d]) => d === requestId);
        if (down) this.sendUp({ ...m, params: { ...m.params, requestId: down[0] } });
        return;
      }
      this.clientCalls.delete(requestId);
      if (call.abort) call.abort.abort(m.params?.reason ?? "cancelled by the client");
      if (call.upId !== undefined) {
        this.upPending.delete(call.upId);
        this.sendUp({ ...m, params: { ...m.params, requestId: call.upId } });
      }
      return;
    }
    this.sendUp(m);
    if (m.method === "notifications/initialized") this.hooks.initialized?.();
  }

  private fromServer(m: Message) {
    if (m.method !== undefined && m.id !== undefined) {
      const downId = ++this.nextDown;
      this.serverCalls.set(m.id, downId);
      this.downPending.set(downId, { relayOf: m.id });
      this.toClient({ ...m, id: downId }, this.related(m));
      return;
    }
    if (m.method !== undefined) {
      if (m.method === "notifications/cancelled") {
        const downId = this.serverCalls.get(m.params?.requestId as RequestId);
        if (downId === undefined) return;
        this.serverCalls.delete(m.params?.requestId as RequestId);
        this.downPending.delete(downId);
        this.toClient({ ...m, params: { ...m.params, requestId: downId } }, undefined);
        return;
      }
      if (m.method === "notifications/tools/list_changed") this.hooks.toolsChanged?.();
      const related = this.related(m);
      if (related !== undefined) this.clientCalls.get(related)!.notified = true;
      this.toClient(m, related);
      return;
    }
    if (m.id !== undefined) this.answer(this.upPending, m, this.down, (from) => this.clientAnswered(from, m));
  }

  /** An answer to a request we sent: ours resolves, a relayed one goes back with its first id. */
  private answer(pending: Map<RequestId, Pending>, m: Message, back: Transport, relayed: (from: RequestId) => boolean | void) {
    const p = pending.get(m.id!);
    if (!p) return; // cancelled, or not ours
    pending.delete(m.id!);
    if ("relayOf" in p) {
      if (back === this.down) {
        const call = this.clientCalls.get(p.relayOf);
        if (call?.discover && m.result) m = { ...m, result: discoverResult(m.result) };
        if (call && relayed(p.relayOf) !== false) this.answerClient(call, { ...m, id: p.relayOf });
      } else if (relayed(p.relayOf) !== false) this.sendUp({ ...m, id: p.relayOf });
      return;
    }
    if (m.error) p.reject(new UpstreamError(m.error));
    else p.resolve(m.result ?? {});
  }

  private clientAnswered(from: RequestId, m: Message): boolean {
    if (!this.clientCalls.delete(from)) return false;
    // The protocol version is settled by the server's answer to initialize: HTTP sends it on every request after.
    const version = m.result?.protocolVersion;
    if (typeof version === "string") this.up.setProtocolVersion?.(version);
    return true;
  }

  private related(m: Message): RequestId | undefined {
    let latest: RequestId | undefined;
    const token = m.method === "notifications/progress" ? m.params?.progressToken : undefined;
    for (const [id, call] of this.clientCalls) {
      if (token !== undefined && call.progressToken === token) return id;
      latest = id;
    }
    return latest;
  }

  /**
   * The answer to a client's request. After a notification that went with it, the answer
   * waits one turn of the event loop: the MCP SDK's client drops a progress notification
   * that it reads in the same chunk as the answer (it forgets the request's progress
   * handler before its notification handlers run).
   */
  private answerClient(call: ClientCall, m: Message) {
    if (call.notified) setImmediate(() => this.toClient(m, m.id));
    else this.toClient(m, m.id);
  }

  private toClient(m: Message, relatedTo: RequestId | undefined) {
    this.down.send(m as JSONRPCMessage, relatedTo !== undefined ? { relatedRequestId: relatedTo } : undefined).catch((e: unknown) => this.hooks.log(`could not send to the client: ${e instanceof Error ? e.message : String(e)}`));
  }

  private sendUp(m: Message) {
    this.up.send(m as JSONRPCMessage).catch((e: unknown) => this.hooks.log(`could not send to the MCP server: ${e instanceof Error ? e.message : String(e)}`));
  }

  private upstreamError(e: Error) {
    if (!(e instanceof OversizedMessage) || e.id === undefined || !this.upPending.has(e.id)) return this.hooks.log(`MCP server: ${e.message}`);
    // The one answer over the limit fails its one request; the connection goes on.
    const message = `the MCP server's answer is too large (${e.message}); it was dropped`;
    this.hooks.log(message);
    this.failUp(e.id, { code: ErrorCode.InternalError, message }, new ToolError(message, { retryable: false }));
  }

  private upstreamClosed() {
    if (this.upClosed) return;
    this.upClosed = true;
    const message = "the MCP server closed the connection (it exited or crashed) before it answered";
    for (const id of [...this.upPending.keys()]) this.failUp(id, { code: ErrorCode.ConnectionClosed, message }, new McpError(ErrorCode.ConnectionClosed, message));
    this.hooks.log("the MCP server has exited; calls now fail until the proxy is restarted");
  }

  /** A request to the server that the proxy answers itself: a relayed one with `error`, ours with `ours`. */
  private failUp(id: RequestId, error: RpcError, ours: Error) {
    const p = this.upPending.get(id);
    if (!p) return;
    this.upPending.delete(id);
    if (!("relayOf" in p)) return p.reject(ours);
    if (this.clientCalls.delete(p.relayOf)) this.toClient({ jsonrpc: "2.0", id: p.relayOf, error }, p.relayOf);
  }
}
