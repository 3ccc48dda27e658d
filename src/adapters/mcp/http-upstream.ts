/**
 * An MCP server reached at a URL (streamable HTTP), with the size limit of a child's stdio
 * (line-transport.ts): an answer over the limit fails its one call, never the connection.
 * The SDK's transport reads a JSON answer whole and buffers each SSE event whole, however
 * large. Here its fetch holds at most the limit of one event (or JSON body); past it the
 * rest is counted and dropped, the message's id read from its first and last bytes, and
 * `OversizedMessage` reported through the transport's `onerror`, as LineTransport reports
 * it, so the relay fails the one request that waits for it.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import { envelopeOf, PROTOCOL_VERSION_KEY } from "./era.js";
import { DEFAULT_MAX_MESSAGE_BYTES, messageIdIn, OversizedMessage } from "./line-transport.js";

/** The streamable HTTP transport to `url`, with one message limited to `maxMessageBytes` [16 MiB]. */
export function httpUpstream(url: URL, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): StreamableHTTPClientTransport {
  const transport: StreamableHTTPClientTransport = new StreamableHTTPClientTransport(url, { fetch: limitedFetch(maxMessageBytes, (e) => transport.onerror?.(e), statelessHeaders(nodeFetch)) });
  return transport;
}

const agents = { "http:": new HttpAgent({ keepAlive: true }), "https:": new HttpsAgent({ keepAlive: true }) };

/**
 * `fetch` over node:http on kept-alive connections, for the SDK's transport. The global
 * fetch (undici) cost the proxy some 1-1.5 ms more CPU a call (of 5 ms), much of
 * it in listeners it adds to the transport's one long-lived abort signal and drops only
 * when its Request is collected. Like a fetch told `redirect: "manual"` (the SDK follows
 * redirects itself, within the origin), it answers a redirect with the 3xx response.
 */
export const nodeFetch: FetchLike = (url, init) => {
  const body = init?.body;
  // The SDK's transport sends its bodies as strings; another kind goes to the global fetch.
  if (body !== undefined && body !== null && typeof body !== "string") return fetch(url, init);
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const req = send(target, { method: init?.method ?? "GET", headers: Object.fromEntries(new Headers(init?.headers)), agent: agents[target.protocol as keyof typeof agents], ...(init?.signal ? { signal: init.signal } : {}) }, (res) => resolve(toResponse(res)));
    req.once("error", reject);
    req.end(body ?? undefined);
  });
};

/** A node:http response as a web one (a status that has no body gets none). */
function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const status = res.statusCode ?? 502;
  const empty = status === 204 || status === 205 || status === 304;
  if (empty) res.resume();
  return new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? "", headers });
}

/**
 * `fetch`, with the headers the stateless protocol (MCP 2026-07-28) asks of an HTTP request
 * of its era, which the SDK 1.x transport does not know: `MCP-Protocol-Version` from the
 * request's envelope (each request says its own), `Mcp-Method`, and `Mcp-Name` for the
 * methods that name a tool, prompt or resource (base64 in the era's `=?base64?…?=` when it
 * is not plain printable ASCII). A server of the era refuses such a request without them.
 */
export function statelessHeaders(base: FetchLike = fetch): FetchLike {
  return (url, init) => {
    const body = init?.body;
    // Cheap for the many requests that are not of the era (a body may be megabytes).
    if (typeof body !== "string" || !body.includes(PROTOCOL_VERSION_KEY)) return base(url, init);
    let message: { method?: unknown; id?: unknown; params?: Record<string, unknown> };
    try {
      message = JSON.parse(body) as typeof message;
    } catch {
      return base(url, init);
    }
    const version = envelopeOf(message.params)?.[PROTOCOL_VERSION_KEY];
    if (typeof message.method !== "string" || message.id === undefined || typeof version !== "string") return base(url, init);
    const headers = new Headers(init!.headers);
    headers.set("mcp-protocol-version", version);
    headers.set("mcp-method", message.method);
    const name = message.params?.[NAMED_BY[message.method] ?? ""];
    if (typeof name === "string") headers.set("mcp-name", /^[\x20-\x7e\t]+$/.test(name) && name === name.trim() && !name.startsWith("=?base64?") ? name : `=?base64?${Buffer.from(name, "utf8").toString("base64")}?=`);
    return base(url, { ...init, headers });
  };
}

/** The field of a request's params that its `Mcp-Name` header repeats. */
const NAMED_BY: Record<string, string> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" };

/** `fetch`, whose successful MCP answers (SSE or JSON) pass no message over `limit`. */
export function limitedFetch(limit: number, report: (e: OversizedMessage) => void, base: FetchLike = fetch): FetchLike {
  return async (url, init) => {
    const response = await base(url, init);
    if (!response.ok || !response.body) return response;
    const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type === "text/event-stream") return new Response(response.body.pipeThrough(sseLimit(limit, report)), { status: response.status, statusText: response.statusText, headers: response.headers });
    if (type === "application/json") return jsonLimit(response, requestIds(init?.body), limit, report);
    return response;
  };
}

// The replacement of a dropped answer. The SDK's transport takes a stream that ends without
// a result for its request as cut off, and resumes it (the server would send the same
// answer again); a result with the dropped one's id ends that. The relay has failed the
// request by then and ignores it.
const standIn = (id: RequestId) => JSON.stringify({ jsonrpc: "2.0", id, result: {} });

const HEAD = 1024; // the event's fields before its data (event, id), and the data's start
const KEEP = 256;
const CR = 13;
const LF = 10;

/**
 * Server-sent events, each passed on whole when within `limit` bytes; a larger one is
 * dropped (replaced by a stand-in answer when its id can be read) and reported.
 */
function sseLimit(limit: number, report: (e: OversizedMessage) => void): TransformStream<Uint8Array, Uint8Array> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let head: Buffer | undefined; // of an event being dropped
  let tail = Buffer.alloc(0);
  let blank = true; // the line so far is empty
  let afterCR = false; // a LF now ends no line: it is the second half of CRLF

  const take = (part: Uint8Array) => {
    if (part.length === 0) return;
    size += part.length;
    if (head === undefined && size <= limit) return void parts.push(part);
    if (head === undefined) {
      head = Buffer.concat([...parts, part.subarray(0, HEAD)]).subarray(0, HEAD);
      parts = [];
    }
    tail = Buffer.concat([tail, part.subarray(-KEEP)]).subarray(-KEEP);
  };
  const end = (out: TransformStreamDefaultController<Uint8Array>) => {
    if (head === undefined) {
      if (parts.length > 0) out.enqueue(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    } else {
      // The event's id (for the stream's resumption) and the start of its data, from its head.
      let eventId: string | undefined;
      let data = "";
      for (const line of head.toString("utf8").split(/\r\n|\r|\n/)) {
        if (line.startsWith("data:")) {
          data = line.slice(5).replace(/^ /, "");
          break;
        }
        if (line.startsWith("id:")) eventId = line.slice(3).replace(/^ /, "");
      }
      const id = messageIdIn(data, tail.toString("utf8"));
      report(new OversizedMessage(id, size, limit));
      if (id !== undefined) out.enqueue(Buffer.from(`${eventId !== undefined ? `id: ${eventId}\n` : ""}data: ${standIn(id)}\n\n`));
    }
    parts = [];
    size = 0;
    head = undefined;
    tail = Buffer.alloc(0);
  };

  return new TransformStream({
    transform(chunk, out) {
      let from = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b !== CR && b !== LF) {
          blank = false;
          afterCR = false;
          continue;
        }
        if (b === LF && afterCR) {
          afterCR = false;
          continue;
        }
        afterCR = b === CR;
        if (blank) {
          // An empty line ends the event (its CRLF's LF, if any, goes with the next: harmless).
          take(chunk.subarray(from, i + 1));
          end(out);
          from = i + 1;
        }
        blank = true;
      }
      take(chunk.subarray(from));
    },
    flush(out) {
      end(out);
    },
  });
}

/** A JSON answer (a message or a batch), passed on when within `limit`; else stand-ins for the requests it answers. */
async function jsonLimit(response: Response, ids: RequestId[], limit: number, report: (e: OversizedMessage) => void): Promise<Response> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let head: Buffer | undefined;
  let tail = Buffer.alloc(0);
  for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += part.length;
    if (head === undefined && size <= limit) {
      parts.push(part);
      continue;
    }
    head ??= Buffer.concat([...parts, part]).subarray(0, KEEP);
    parts.length = 0;
    tail = Buffer.concat([tail, part.subarray(-KEEP)]).subarray(-KEEP);
  }
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  const init = { status: response.status, statusText: response.statusText, headers };
  if (head === undefined) return new Response(Buffer.concat(parts), init);
  // The request says which ids the answer is for; else the answer's own first and last bytes.
  const read = messageIdIn(head.toString("utf8"), tail.toString("utf8"));
  const answered = ids.length > 0 ? ids : read !== undefined ? [read] : [];
  if (answered.length === 0) report(new OversizedMessage(undefined, size, limit));
  for (const id of answered) report(new OversizedMessage(id, size, limit));
  const body = answered.length === 1 ? standIn(answered[0]!) : `[${answered.map(standIn).join(",")}]`;
  return new Response(body, init);
}

/** The ids of the requests in a POST's body (the SDK sends it as a string); none when it cannot tell. */
function requestIds(body: RequestInit["body"]): RequestId[] {
  if (typeof body !== "string") return [];
  try {
    const sent = JSON.parse(body) as unknown;
    const messages = (Array.isArray(sent) ? sent : [sent]) as ({ id?: RequestId; method?: unknown } | null)[];
    return messages.filter((m) => m?.method !== undefined && m.id !== undefined).map((m) => m!.id!);
  } catch {
    return [];
  }
}
