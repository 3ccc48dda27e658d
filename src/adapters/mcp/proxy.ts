/**
 * `mcpProxy`, what `bulwark proxy` runs: an MCP server in front of another, on stdio or
 * streamable HTTP, with the real server started as a child (one per client session) or
 * reached at a URL. Everything is relayed as it is (relay.ts) except `tools/call`, which
 * goes through one Bulwark run per session (session.ts); over HTTP the stateless protocol
 * (2026-07-28), which has no sessions, goes to one shared connection, one run per client
 * (see `stateless` below). Over HTTP it takes the tokens of
 * `bulwark serve` (server/auth.ts): with tokens every request needs one, a session belongs
 * to the token that opened it, and its holder is who an approval given in the client is
 * recorded as; without tokens it binds only loopback.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { createRuntime, redactText, type PolicyInput, type Runtime } from "../../index.js";
import { hostCheck, isLoopback, refuseOpenBind, TokenCheck, unauthorized, WWW_AUTHENTICATE, type ApiToken, type Principal } from "../../server/auth.js";
import { clientNameOf, envelopeOf, isStateless, PROTOCOL_VERSION_KEY } from "./era.js";
import { httpUpstream } from "./http-upstream.js";
import { childTransport, LineTransport } from "./line-transport.js";
import { Relay } from "./relay.js";
import { GuardedSession, type GuardOptions } from "./session.js";
import { StatelessHttp } from "./stateless-http.js";

/**
 * The run limits of a proxy session, under the policy file's `run`. A session is a whole
 * chat with a person in it, not one task of an autonomous loop, so the library's defaults
 * would end a conversation that is going well: 1,000 steps (not 50) still stop a runaway
 * loop; a model that fixes its arguments after a refusal or two is not halted (5 failures
 * in a row, not 2). MCP tools have no read-back, so every write is unverified: 10 of them
 * in a row (not 3) before a gate is asked for, and an unverified write does not lower the
 * run's confidence (it would go read-only after 7 ordinary writes, for no fault). The
 * destructive budget stays 3 (and unannotated tools count as destructive).
 */
export const PROXY_RUN_DEFAULTS = {
  maxSteps: 1_000,
  maxConsecutiveFailures: 5,
  maxUnverifiedDepth: 10,
  confidence: { penalties: { unverifiedWrite: 0 } },
} as const satisfies PolicyInput;

export interface McpProxyOptions extends GuardOptions {
  /** The MCP server to start as a child, its command and arguments (one child per client session). */
  command?: string[];
  /** Or the URL of an MCP server speaking streamable HTTP. */
  url?: string;
  /** Serve streamable HTTP at `/mcp` on this address instead of stdio. */
  listen?: { host: string; port: number };
  /**
   * With `listen`: who may use the proxy, as `bulwark serve`'s tokens (`loadTokens`). With
   * tokens every request needs `Authorization: Bearer <token>`; without, the proxy binds
   * only loopback. The holder of a "decide" token may approve calls in the client (recorded
   * as the token's name); a "read" token's calls that need approval wait for someone else.
   */
  tokens?: readonly ApiToken[];
  /** With `listen` beyond loopback: host names to answer to besides IP addresses and loopback names. */
  allowedHosts?: readonly string[];
  /** Bulwark's store. */
  store: string;
  /** With `listen`: a client session with no request for this long is closed, and its child server stopped [15 minutes]. */
  sessionIdleMs?: number;
  /** The largest message taken from the server (a child's, or one at the URL); a larger answer fails its one call [16 MiB]. */
  maxMessageBytes?: number;
  /** Where the proxy's own lines go [stderr: stdout may carry the protocol]. */
  log?: (line: string) => void;
}

export interface McpProxyServer {
  /** Where it serves, for `listen`: e.g. http://127.0.0.1:8931/mcp */
  url?: string;
  close(): Promise<void>;
}

/**
 * Start the proxy. On stdio it serves this process's one client and exits when that
 * client goes; with `listen` it serves streamable HTTP until closed.
 */
export async function mcpProxy(options: McpProxyOptions): Promise<McpProxyServer> {
  // Every line without credentials: a store URL's password, a token in a store error.
  const write = options.log ?? ((line: string) => process.stderr.write(`bulwark proxy: ${line}\n`));
  const log = (line: string) => write(redactText(line));
  if (!options.url && !options.command?.[0]) throw new Error("give the MCP server's command (or URL) after --");
  if (options.listen) refuseOpenBind(options.listen.host, options.tokens ?? [], "call the tools and approve their calls");
  let rt: Runtime;
  try {
    rt = createRuntime({ store: options.store, policy: PROXY_RUN_DEFAULTS, onError: (e) => log(`store: ${e instanceof Error ? e.message : String(e)}`) });
    await rt.ready();
  } catch (e) {
    throw new Error(`${options.source ? `${options.source}: ` : ""}${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return options.listen ? await serveHttp(options, options.listen, rt, log) : await serveStdio(options, rt, log);
  } catch (e) {
    await rt.close();
    throw e;
  }
}

const upstreamName = (o: McpProxyOptions) => o.url ?? o.command!.join(" ");

async function connectUpstream(o: McpProxyOptions): Promise<Transport> {
  try {
    if (o.url) return httpUpstream(new URL(o.url), o.maxMessageBytes);
    const [command, ...args] = o.command!;
    // The proxy's tokens are not the server's business.
    const { BULWARK_TOKENS: _tokens, ...env } = process.env;
    return await childTransport(command!, args, o.maxMessageBytes, env);
  } catch (e) {
    throw new Error(`could not start the MCP server \`${upstreamName(o)}\`: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A client session wired to its own upstream connection and guard. */
async function openSession(down: Transport, up: Transport, o: McpProxyOptions, rt: Runtime, log: (line: string) => void, onGuardError: (e: Error) => void, who?: Principal) {
  let session!: GuardedSession;
  const relay = new Relay(down, up, {
    toolCall: (params, signal, id) => session.toolCall(params, signal, id),
    // Listed as soon as the client is ready, so that a policy file naming tools the server
    // does not have is reported at once.
    initialized: (envelope) => void session.tools(envelope).catch(onGuardError),
    toolsChanged: () => session.toolsChanged(),
    log,
  });
  session = new GuardedSession(relay, { ...o, rt, log, ...(who ? { who } : {}) });
  await up.start();
  await down.start();
  let closed: Promise<void> | undefined;
  return {
    relay,
    // Once: closing the client's transport calls back here.
    close: () =>
      (closed ??= (async () => {
        await session.end();
        await relay.close();
      })()),
  };
}

async function serveStdio(o: McpProxyOptions, rt: Runtime, log: (line: string) => void): Promise<McpProxyServer> {
  const up = await connectUpstream(o);
  const down = new LineTransport(process.stdin, process.stdout);
  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    await session.close();
    await rt.close().catch(() => {});
    process.exit(code);
  };
  const session = await openSession(down, up, o, rt, log, (e) => {
    log(e.message);
    void shutdown(1);
  });
  down.onclose = () => void shutdown(0);
  process.once("SIGINT", () => void shutdown(130));
  process.once("SIGTERM", () => void shutdown(143));
  log(`serving \`${upstreamName(o)}\` on stdio, store ${o.store}`);
  return { close: () => shutdown(0) };
}

const MAX_BODY = 4 * 1024 * 1024;

async function serveHttp(o: McpProxyOptions, at: { host: string; port: number }, rt: Runtime, log: (line: string) => void): Promise<McpProxyServer> {
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; close: () => Promise<void>; idle: NodeJS.Timeout; who: Principal | undefined }>();
  // Clients often leave without ending their session (no DELETE): an idle one would keep
  // its child server forever.
  const idleMs = o.sessionIdleMs ?? 15 * 60_000;
  const idleTimer = (transport: StreamableHTTPServerTransport, relay: Relay) => {
    const timer: NodeJS.Timeout = setTimeout(() => (relay.busy ? timer.refresh() : void transport.close()), idleMs).unref();
    return timer;
  };
  const loopbackOnly = isLoopback(at.host);
  const ourHost = hostCheck(at.host, o.allowedHosts);
  const tokens = o.tokens ?? [];
  const auth = tokens.length > 0 ? new TokenCheck(tokens) : undefined;

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`HTTP: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) reply(res, 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (!ourHost(req.headers.host)) return reply(res, 403, `this proxy does not answer to ${JSON.stringify(req.headers.host ?? "")}${loopbackOnly ? ", only to localhost" : "; add the name with --allow-host"}`);
    const refused = originRefusal(req);
    if (refused) return reply(res, 403, refused);
    // Before anything else is read: without a good token nothing reaches the server.
    const who = auth?.who(req.headers.authorization);
    if (auth && !who) return reply(res, 401, unauthorized(req.headers.authorization), -32000, { "www-authenticate": WWW_AUTHENTICATE });
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== "/mcp") return reply(res, 404, "MCP is served at /mcp");
    const body = req.method === "POST" ? await readJson(req) : undefined;
    if (body instanceof Error) return reply(res, 400, body.message, -32700);
    const id = req.headers["mcp-session-id"];
    if (typeof id === "string") {
      const session = sessions.get(id);
      if (!session) return reply(res, 404, "no such session (it ended, or the proxy restarted): initialize again");
      // A session id is not a credential: another token's holder may not act in this session.
      if (session.who?.name !== who?.name) return reply(res, 403, "this session was opened with another token");
      session.idle.refresh();
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method === "POST" && isStateless(body)) return stateless(req, res, body, who);
    if (req.method !== "POST" || !isInitialize(body)) return reply(res, 400, "no Mcp-Session-Id header: send initialize first");
    // A new client session: its own upstream connection (a child, or a session at the URL) and run.
    let up: Transport;
    try {
      up = await connectUpstream(o);
    } catch (e) {
      return reply(res, 502, e instanceof Error ? e.message : String(e));
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid) => void sessions.set(sid, { transport, close: session.close, idle: idleTimer(transport, session.relay), who }),
    });
    const session = await openSession(transport, up, o, rt, log, (e) => log(e.message), who);
    transport.onclose = () => {
      const sid = transport.sessionId;
      if (sid !== undefined) clearTimeout(sessions.get(sid)?.idle);
      if (sid !== undefined) sessions.delete(sid);
      void session.close();
    };
    await transport.handleRequest(req, res, body);
  }

  /**
   * Requests of the stateless protocol (MCP 2026-07-28) come without a session, each one
   * alone: they share one connection to the server (stateless too: any request may go on
   * any connection), and one run per client, told apart by the token (with tokens) and
   * the `clientInfo` name of the request's envelope, for as long as the proxy runs. A run
   * is the chat's budgets, keys and chain breaker; the era gives no session to bound a
   * chat, and one run per request would make every repeat a new call and every budget
   * endless. The price: two chats of one client share a run (as two sessions with one
   * policy `runId` do), and the run ends only with the proxy.
   */
  let era: Promise<{ transport: StatelessHttp<Principal | undefined>; close: () => Promise<void> }> | undefined;
  const openEra = async () => {
    const up = await connectUpstream(o);
    const transport = new StatelessHttp<Principal | undefined>();
    const runs = new Map<string, GuardedSession>();
    const sessionFor = (who: Principal | undefined, params: Record<string, unknown>) => {
      const key = JSON.stringify([who?.name ?? null, clientNameOf(envelopeOf(params)) ?? null]);
      let session = runs.get(key);
      if (!session) runs.set(key, (session = new GuardedSession(relay, { ...o, rt, log, ...(who ? { who } : {}) })));
      return session;
    };
    const relay: Relay = new Relay(transport, up, {
      toolCall: (params, signal, id) => sessionFor(transport.contextOf(id), params).toolCall(params, signal, id),
      toolsChanged: () => runs.forEach((s) => s.toolsChanged()),
      log,
    });
    await up.start();
    return {
      transport,
      close: async () => {
        await Promise.allSettled([...runs.values()].map((s) => s.end()));
        await relay.close();
      },
    };
  };
  async function stateless(req: IncomingMessage, res: ServerResponse, body: unknown, who: Principal | undefined) {
    if (Array.isArray(body)) return reply(res, 400, "the stateless protocol (2026-07-28) sends one message per request, not a batch");
    const version = envelopeOf((body as { params?: Record<string, unknown> }).params)?.[PROTOCOL_VERSION_KEY];
    const header = req.headers["mcp-protocol-version"];
    if (header !== undefined && header !== version) return reply(res, 400, `the MCP-Protocol-Version header (${String(header)}) is not the request's protocol version (${String(version)})`, -32600);
    let shared;
    try {
      shared = await (era ??= openEra());
    } catch (e) {
      era = undefined;
      return reply(res, 502, e instanceof Error ? e.message : String(e));
    }
    shared.transport.handle(res, body as Parameters<typeof shared.transport.handle>[1], who);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}/mcp`;
  log(`serving \`${upstreamName(o)}\` at ${url}, store ${o.store}`);
  log(
    auth
      ? `tokens: ${tokens.map((t) => `${t.name} (${t.role})`).join(", ")}; every request needs one`
      : "no tokens: anyone who can reach this address can call the tools (give BULWARK_TOKENS or --tokens-file to require them)",
  );
  return {
    url,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((s) => s.close()).concat(era ? [era.then((e) => e.close())] : []));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rt.close();
    },
  };
}

/** A browser's request must come from a page of this same host. */
function originRefusal(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `bad Origin header ${JSON.stringify(origin)}`;
  }
  return originHost === req.headers.host ? undefined : `requests from ${origin} are not accepted`;
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => typeof m === "object" && m !== null && (m as { method?: unknown }).method === "initialize");
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return new Error(`the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    return new Error(`the body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function reply(res: ServerResponse, status: number, message: string, code = -32000, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}
