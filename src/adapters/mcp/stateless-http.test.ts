import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { StatelessHttp } from "./stateless-http.js";

type Message = { id?: number | string; method?: string; params?: { requestId?: unknown; progressToken?: unknown; _meta?: { progressToken?: unknown } } };

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** The transport behind a real HTTP server; each POST's context is its `x-who` header. */
async function serving() {
  const transport = new StatelessHttp<string>();
  const seen: Message[] = [];
  transport.onmessage = (m) => void seen.push(m as Message);
  server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    transport.handle(res, JSON.parse(body), String(req.headers["x-who"]));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}/mcp`;
  const post = (who: string, message: unknown, signal?: AbortSignal) => fetch(url, { method: "POST", headers: { "x-who": who }, body: JSON.stringify(message), ...(signal ? { signal } : {}) });
  const until = async (n: number) => {
    while (seen.length < n) await new Promise((r) => setTimeout(r, 5));
  };
  return { transport, seen, post, until };
}

const request = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x", _meta: { progressToken: "p" } } };

describe("StatelessHttp: the proxy's side of sessionless requests (MCP 2026-07-28)", () => {
  it("two clients with the same id and progress token: each gets its own progress and answer, under its own names", async () => {
    const { transport, seen, post, until } = await serving();
    const a = post("a", request);
    const b = post("b", request);
    await until(2);
    const [ida, idb] = seen.map((m) => m.id!);
    expect(ida).not.toBe(idb);
    expect(seen.map((m) => m.params?._meta?.progressToken)).toEqual([ida, idb]);
    expect([transport.contextOf(ida!), transport.contextOf(idb!)].sort()).toEqual(["a", "b"]);
    const to = (id: number | string, m: object) => transport.send({ jsonrpc: "2.0", ...m } as JSONRPCMessage, { relatedRequestId: id });
    await to(idb!, { method: "notifications/progress", params: { progressToken: idb, progress: 1 } });
    // Not progress: it could be another client's, so it goes nowhere.
    await to(ida!, { method: "notifications/message", params: { level: "info", data: "b's log line?" } });
    await to(ida!, { id: ida, result: { who: transport.contextOf(ida!) } });
    await to(idb!, { id: idb, result: { who: transport.contextOf(idb!) } });
    const events = async (r: Promise<Response>) => (await (await r).text()).split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)) as Message & { result?: unknown });
    const [ea, eb] = await Promise.all([events(a), events(b)]);
    expect(ea).toEqual([{ jsonrpc: "2.0", id: 1, result: { who: "a" } }]);
    expect(eb).toEqual([
      { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p", progress: 1 } },
      { jsonrpc: "2.0", id: 1, result: { who: "b" } },
    ]);
  });

  it("a client that closes its request cancels it; a notification gets 202; no requests to the client", async () => {
    const { transport, seen, post, until } = await serving();
    const abort = new AbortController();
    const pending = post("a", request, abort.signal).then((r) => r.body?.getReader().read());
    await until(1);
    abort.abort();
    await pending.catch(() => {});
    await until(2);
    expect(seen[1]).toEqual({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: seen[0]!.id, reason: "the client closed its request" } });
    expect((await post("a", { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } })).status).toBe(202);
    await expect(transport.send({ jsonrpc: "2.0", id: 9, method: "elicitation/create", params: {} } as JSONRPCMessage)).rejects.toThrow(/no requests from the server/);
  });
});
