import { describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { limitedFetch, nodeFetch, statelessHeaders } from "./http-upstream.js";
import type { OversizedMessage } from "./line-transport.js";

const LIMIT = 1_000;
const big = "x".repeat(5_000);

/** `limitedFetch` over a canned answer, its body fed in `chunk`-byte pieces. */
async function through(body: string, type: string, o: { chunk?: number; sent?: unknown; status?: number } = {}) {
  const reports: OversizedMessage[] = [];
  const bytes = Buffer.from(body);
  const size = o.chunk ?? bytes.length;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.subarray(i, i + size));
      c.close();
    },
  });
  const f = limitedFetch(LIMIT, (e) => void reports.push(e), async () => new Response(stream, { status: o.status ?? 200, headers: { "content-type": type } }));
  const r = await f("http://upstream.test/mcp", { method: "POST", body: JSON.stringify(o.sent ?? { jsonrpc: "2.0", id: 7, method: "tools/call", params: {} }) });
  return { text: await r.text(), status: r.status, reports: reports.map((e) => ({ id: e.id, bytes: e.bytes, limit: e.limit, message: e.message })) };
}

describe("limitedFetch: SSE", () => {
  const small = (id: string, n: number) => `event: message\nid: ${id}\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"n":${n}}}\n\n`;

  it("passes events within the limit as they are, whatever the chunking", async () => {
    const body = small("e1", 1) + small("e2", 2);
    for (const chunk of [1, 3, 7, body.length]) expect((await through(body, "text/event-stream", { chunk })).text).toBe(body);
  });

  it("an event over the limit is dropped and reported with its id (read from its tail); a stand-in answer keeps its event id; the events after pass", async () => {
    const huge = `event: message\r\nid: e2\r\ndata: {"result":{"content":[{"type":"text","text":"${big}"}]},"jsonrpc":"2.0","id":7}\r\n\r\n`;
    for (const chunk of [5, 64, 100_000]) {
      const r = await through(small("e1", 1) + huge + small("e3", 3), "text/event-stream", { chunk });
      // The last LF of the dropped event's CRLF goes with the next: an empty line, which SSE ignores.
      expect(r.text).toBe(`${small("e1", 1)}id: e2\ndata: {"jsonrpc":"2.0","id":7,"result":{}}\n\n\n${small("e3", 3)}`);
      expect(r.reports).toEqual([{ id: 7, bytes: Buffer.byteLength(huge) - 1, limit: LIMIT, message: expect.stringMatching(/over the limit of 0\.0 MB/) }]);
    }
  });

  it("reads an id at the head of the data; a message whose id cannot be read is dropped with nothing in its place", async () => {
    const head = await through(`data: {"jsonrpc":"2.0","id":"call-1","result":{"text":"${big}"}}\n\n`, "text/event-stream", { chunk: 100 });
    expect(head.reports.map((r) => r.id)).toEqual(["call-1"]);
    expect(head.text).toBe('data: {"jsonrpc":"2.0","id":"call-1","result":{}}\n\n');
    const none = await through(`data: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${big}"}}\n\n${small("e9", 9)}`, "text/event-stream");
    expect(none.reports.map((r) => r.id)).toEqual([undefined]);
    expect(none.text).toBe(small("e9", 9));
  });
});

describe("limitedFetch: JSON", () => {
  it("a body within the limit passes as it is; over it, the request's id is reported and a stand-in answers it", async () => {
    const ok = `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`;
    expect(await through(ok, "application/json", { chunk: 5 })).toMatchObject({ text: ok, reports: [] });
    const over = await through(`{"jsonrpc":"2.0","id":7,"result":{"text":"${big}"}}`, "application/json", { chunk: 100 });
    expect(over.reports.map((r) => r.id)).toEqual([7]);
    expect(JSON.parse(over.text)).toEqual({ jsonrpc: "2.0", id: 7, result: {} });
  });

  it("an error status is not touched", async () => {
    const r = await through(`{"error":"${big}"}`, "application/json", { status: 500 });
    expect(r).toMatchObject({ status: 500, reports: [] });
    expect(r.text).toHaveLength(big.length + 12);
  });
});

describe("statelessHeaders: what a request of MCP 2026-07-28 says in its headers", () => {
  const envelope = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
  async function headersOf(message: unknown) {
    let seen: Headers | undefined;
    await statelessHeaders(async (_url, init) => {
      seen = new Headers(init?.headers);
      return new Response("{}");
    })("http://upstream.test/mcp", { method: "POST", headers: { accept: "application/json" }, body: JSON.stringify(message) });
    return Object.fromEntries(seen!);
  }

  it("version, method and name from the request; a name that is not plain ASCII in base64; a 2025 request untouched", async () => {
    expect(await headersOf({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", _meta: envelope } })).toEqual({ accept: "application/json", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo" });
    expect((await headersOf({ jsonrpc: "2.0", id: 1, method: "resources/read", params: { uri: "file:///é", _meta: envelope } }))["mcp-name"]).toBe(`=?base64?${Buffer.from("file:///é").toString("base64")}?=`);
    expect(await headersOf({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } })).toEqual({ accept: "application/json", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" });
    expect(await headersOf({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo" } })).toEqual({ accept: "application/json" });
  });
});

describe("nodeFetch", () => {
  it("sends the method, headers and body; answers with the status, every header and the body; a redirect is not followed; calls share a connection", async () => {
    const seen: { method?: string; auth?: string; body: string }[] = [];
    let connections = 0;
    const server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method, auth: req.headers.authorization, body });
      if (req.url === "/moved") return void res.writeHead(307, { location: "/elsewhere" }).end();
      if (req.url === "/empty") return void res.writeHead(204).end();
      res.writeHead(200, [["content-type", "application/json"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]]).end('{"ok":true}');
    });
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await nodeFetch(`${base}/mcp`, { method: "POST", headers: new Headers({ authorization: "Bearer t" }), body: '{"x":1}' });
      expect([ok.status, ok.headers.get("content-type"), ok.headers.getSetCookie(), await ok.text()]).toEqual([200, "application/json", ["a=1", "b=2"], '{"ok":true}']);
      const moved = await nodeFetch(`${base}/moved`, { method: "GET" });
      expect([moved.status, moved.headers.get("location")]).toEqual([307, "/elsewhere"]);
      await moved.text();
      const empty = await nodeFetch(`${base}/empty`, {});
      expect([empty.status, empty.body]).toEqual([204, null]);
      expect(seen).toEqual([
        { method: "POST", auth: "Bearer t", body: '{"x":1}' },
        { method: "GET", auth: undefined, body: "" },
        { method: "GET", auth: undefined, body: "" },
      ]);
      expect(connections).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("aborts with its signal", async () => {
    const server = createServer(() => {}); // never answers
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const abort = new AbortController();
      const pending = nodeFetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, { method: "POST", body: "{}", signal: abort.signal });
      setTimeout(() => abort.abort(), 20);
      await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
