/**
 * The client side of the stateless MCP protocol (2026-07-28) over streamable HTTP: POSTs
 * without a session, each request answered on its own response, an SSE stream that carries
 * the request's progress and then its answer. A client cancels a request by closing that
 * response. One transport serves every such client of the proxy, on one relay: ids and
 * progress tokens are the transport's own on the way in (clients number their requests
 * alike) and the client's again on the way out. A server message that belongs to no
 * request of the client's (a log line, a list change, a request to the client) is not
 * sent: on a shared connection it could reach another client; the era has no requests
 * from the server, and its notifications of changes travel on `subscriptions/listen`,
 * which this first version refuses (method not found) rather than leave a client waiting
 * for its acknowledgement.
 */
import type { ServerResponse } from "node:http";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";

type Message = { jsonrpc: "2.0"; id?: RequestId; method?: string; params?: Record<string, unknown> };

/** One request in flight: where its answer goes, under which of the client's names. */
interface Exchange<C> {
  res: ServerResponse;
  id: RequestId;
  progressToken?: unknown;
  context: C;
}

export class StatelessHttp<C> implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  private next = 0;
  private readonly open = new Map<RequestId, Exchange<C>>();
  private closed = false;

  async start(): Promise<void> {}

  /** What the request `id` (the transport's) came with: e.g. who sent it. */
  contextOf(id: RequestId): C | undefined {
    return this.open.get(id)?.context;
  }

  /**
   * One POST's message, read and known to be of the era. A request is answered on `res`;
   * a notification gets 202 and goes no further (a stateless client cancels by closing).
   */
  handle(res: ServerResponse, message: Message, context: C): void {
    if (this.closed) return void res.writeHead(503).end();
    if (message.method === undefined || message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "subscriptions/listen") {
      const error = { code: -32601, message: "subscriptions/listen: bulwark proxy does not relay subscriptions over HTTP without a session" };
      return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error }));
    }
    const id = ++this.next;
    const meta = message.params?._meta as Record<string, unknown> | undefined;
    const exchange: Exchange<C> = { res, id: message.id, context, ...(meta?.progressToken !== undefined ? { progressToken: meta.progressToken } : {}) };
    this.open.set(id, exchange);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.on("close", () => {
      if (this.open.get(id) !== exchange) return;
      this.open.delete(id);
      this.onmessage?.({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "the client closed its request" } });
    });
    const params = meta?.progressToken !== undefined ? { ...message.params, _meta: { ...meta, progressToken: id } } : message.params;
    this.onmessage?.({ ...message, id, ...(params ? { params } : {}) } as JSONRPCMessage);
  }

  async send(message: JSONRPCMessage, options?: { relatedRequestId?: RequestId }): Promise<void> {
    const m = message as Message;
    if (m.method === undefined && m.id !== undefined) {
      const exchange = this.open.get(m.id);
      if (!exchange) return; // cancelled: the client is gone
      this.open.delete(m.id);
      exchange.res.end(event({ ...m, id: exchange.id }));
      return;
    }
    if (m.id !== undefined) throw new Error(`${m.method}: the stateless protocol has no requests from the server to the client`);
    const exchange = options?.relatedRequestId !== undefined ? this.open.get(options.relatedRequestId) : undefined;
    // Progress only, with the client's own token: anything else may belong to another client.
    if (!exchange || m.method !== "notifications/progress" || exchange.progressToken === undefined) return;
    exchange.res.write(event({ ...m, params: { ...m.params, progressToken: exchange.progressToken } }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { res } of this.open.values()) res.end();
    this.open.clear();
    this.onclose?.();
  }
}

const event = (m: unknown) => `event: message\ndata: ${JSON.stringify(m)}\n\n`;
