/**
 * The HTTP server of `bulwark serve`: the JSON API (api.ts) under /api/, Prometheus text
 * at /metrics, and the dashboard's static files (web/) at /. It binds 127.0.0.1 unless
 * told otherwise, and refuses to bind anything wider without tokens (auth.ts): with
 * tokens, every API and metrics request needs one, and changes need the "decide" role.
 * Since a page on any site can send requests to the server, it refuses requests for a
 * host name that is not its own (DNS rebinding: only loopback names when bound to
 * loopback; IP addresses, loopback names and `allowedHosts` when bound wide), state
 * changes from another origin or without a JSON body (cross-site forms), and framing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import type { Runtime, Tool } from "../index.js";
import { HttpError, match, type ApiContext } from "./api.js";
import { hostCheck, isLoopback, refuseOpenBind, TokenCheck, unauthorized, WWW_AUTHENTICATE, type ApiToken, type Principal } from "./auth.js";
import { storeMetricsOrWhyNot } from "./store-metrics.js";

export interface ServeOptions {
  /** A runtime whose store is the one to show (the server does not close it). */
  runtime: Runtime;
  /** The agent's tools, for rollback. */
  tools?: Tool[];
  /** [7070]; 0 for any free port. */
  port?: number;
  /** ["127.0.0.1"]; any other address needs `tokens`. */
  host?: string;
  /**
   * Who may use the API (see auth.ts). Without tokens the API is open to whoever can
   * reach it, which is why the server then binds only loopback addresses.
   */
  tokens?: readonly ApiToken[];
  /**
   * Host names the server answers to when bound beyond loopback, besides IP addresses
   * and loopback names, e.g. ["bulwark.internal"] (DNS rebinding uses a name, never an IP).
   */
  allowedHosts?: readonly string[];
  /** The dashboard's files [the package's web/]. */
  webDir?: string;
  now?: () => number;
}

export interface DashboardServer {
  /** Where it listens, e.g. http://127.0.0.1:7070 */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
};

const defaultWebDir = () => fileURLToPath(new URL("../../web/", import.meta.url));

/**
 * Files the dashboard takes from other packages, served from node_modules so that the
 * page loads nothing from the network: the charting library, uPlot (small, no
 * dependencies, canvas-drawn). An optional peer, as the core installs lean: without it
 * the dashboard works and its charts say what to install.
 */
const VENDOR: Record<string, string> = {
  "/vendor/uplot.js": "uplot/dist/uPlot.iife.min.js",
  "/vendor/uplot.css": "uplot/dist/uPlot.min.css",
};
const requireHere = createRequire(import.meta.url);

export async function startServer(o: ServeOptions): Promise<DashboardServer> {
  const rt = o.runtime;
  await rt.ready();
  const host = o.host ?? "127.0.0.1";
  const webDir = normalize(o.webDir ?? defaultWebDir());
  const tools = new Map((o.tools ?? []).map((t) => [t.name, t]));
  const now = o.now ?? Date.now;
  const ctx: ApiContext = { rt, tools, now, auth: (o.tokens ?? []).length > 0 };
  // prom-client is an optional peer: without it the dashboard works and /metrics says what to install.
  const metrics = storeMetricsOrWhyNot(rt, now);
  const loopbackOnly = isLoopback(host);
  const tokens = o.tokens ?? [];
  refuseOpenBind(host, tokens, "approve, freeze and roll back");
  const auth = tokens.length > 0 ? new TokenCheck(tokens) : undefined;
  const ourHost = hostCheck(host, o.allowedHosts);

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) console.error("bulwark serve:", e);
      const headers: Record<string, string> = { ...(e as { headers?: Record<string, string> }).headers };
      const allow = (e as { allow?: string }).allow;
      if (allow) headers.allow = allow;
      sendJson(res, status, { error: { status, message: e instanceof Error && status !== 500 ? e.message : `internal error: ${e instanceof Error ? e.message : String(e)}` } }, headers);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    if (!ourHost(req.headers.host))
      throw new HttpError(403, `this server does not answer to ${JSON.stringify(req.headers.host ?? "")}${loopbackOnly ? ", only to localhost" : "; add the name with --allow-host"}`);

    if (url.pathname.startsWith("/api/")) {
      const change = method !== "GET" && method !== "HEAD";
      const who = authenticate(req, change);
      const { route, params } = match(method, url.pathname);
      let body: Record<string, unknown> = {};
      if (change) {
        checkOrigin(req);
        body = await readJson(req);
      }
      const value = await route.handler({ method, params, query: url.searchParams, body, ...(who ? { who } : {}) }, ctx);
      return sendJson(res, route.status ?? 200, value);
    }
    if (method !== "GET" && method !== "HEAD") throw Object.assign(new HttpError(405, `${method} is not allowed on ${url.pathname}`), { allow: "GET, HEAD" });
    if (url.pathname === "/metrics") {
      authenticate(req, false);
      if (typeof metrics === "string") throw new HttpError(501, metrics);
      const text = await metrics.metrics();
      res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
      return res.end(method === "HEAD" ? undefined : text);
    }
    const vendored = VENDOR[url.pathname];
    if (vendored) {
      let file: string;
      try {
        file = requireHere.resolve(vendored);
      } catch {
        throw new HttpError(404, `the dashboard's charts need the package "uplot": npm install uplot`);
      }
      return sendFile(res, method, dirname(file), `/${basename(file)}`);
    }
    return sendFile(res, method, webDir, url.pathname);
  }

  /** The token's holder (none when the server has no tokens); a 401 or 403 otherwise. */
  function authenticate(req: IncomingMessage, change: boolean): Principal | undefined {
    if (!auth) return undefined;
    const who = auth.who(req.headers.authorization);
    if (!who)
      throw Object.assign(new HttpError(401, unauthorized(req.headers.authorization)), { headers: { "www-authenticate": WWW_AUTHENTICATE } });
    if (change && who.role !== "decide") throw new HttpError(403, `${who.name} may read but not decide (role ${who.role})`);
    return who;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 7070, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** A state change must come from this server's own pages (or from no browser at all). */
function checkOrigin(req: IncomingMessage) {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new HttpError(403, `bad Origin header ${JSON.stringify(origin)}`);
  }
  if (originHost !== req.headers.host) throw new HttpError(403, `requests from ${origin} may not change anything here`);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString("utf8");
  if (raw.trim() === "") return {};
  // JSON only: a cross-site form can post text/plain or form data, not application/json.
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, `send the body as application/json, not ${JSON.stringify(type || "no content type")}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new HttpError(400, `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, "the body must be a JSON object");
  return parsed as Record<string, unknown>;
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(body);
}

async function sendFile(res: ServerResponse, method: string, webDir: string, pathname: string) {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname === "/" ? "/index.html" : pathname);
  } catch {
    throw new HttpError(400, `bad escape in the path: ${pathname}`);
  }
  const file = normalize(join(webDir, rel));
  const type = TYPES[extname(file)];
  if (!file.startsWith(webDir.endsWith(sep) ? webDir : webDir + sep) || rel.includes("\0") || !type) throw new HttpError(404, `no such page: ${pathname}`);
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch {
    throw new HttpError(404, `no such page: ${pathname}`);
  }
  res.writeHead(200, { ...SECURITY_HEADERS, "content-type": type, "cache-control": "no-cache" });
  res.end(method === "HEAD" ? undefined : content);
}
