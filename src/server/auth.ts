/**
 * Who may use `bulwark serve`: named bearer tokens, each with a role. "read" sees
 * everything; "decide" also approves, denies, freezes, stops and rolls back. The token's
 * name is who a decision is recorded as. Tokens come from the environment
 * (BULWARK_TOKENS) or a file, never from the command line, where `ps` and shell history
 * would show them to every user of the machine.
 *
 * Format: entries `name:role:token`, one a line (in a file) or separated by commas (in
 * the variable); `#` starts a comment. A token is at least 24 characters of base64 or hex
 * (`openssl rand -hex 32`), so that a guessable word is refused.
 *
 * `bulwark proxy --listen` takes the same tokens under the same rules: a wide bind needs
 * them, and a server bound wide answers only to its own host names (DNS rebinding).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";

export type Role = "read" | "decide";
export const ROLES: readonly Role[] = ["read", "decide"];

export interface ApiToken {
  /** Who holds it: recorded as `by` on what they decide. */
  name: string;
  role: Role;
  token: string;
}

/** The holder of a token presented with a request. */
export interface Principal {
  name: string;
  role: Role;
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9._~+/=-]{24,512}$/;

/** Tokens from entries of text (`source` names where they came from, for errors). */
export function parseTokens(text: string, source: string): ApiToken[] {
  const tokens: ApiToken[] = [];
  const entries = text.split(/[\n,]/).map((e) => e.replace(/#.*$/, "").trim());
  entries.forEach((entry, i) => {
    if (entry === "") return;
    const where = `${source}, entry ${i + 1}`;
    const [name = "", role = "", ...rest] = entry.split(":");
    const token = rest.join(":");
    if (!NAME.test(name)) throw new Error(`${where}: expected name:role:token, where the name is 1 to 64 letters, digits or . _ @ -`);
    if (!(ROLES as string[]).includes(role)) throw new Error(`${where} (${name}): the role must be ${ROLES.join(" or ")}, not ${JSON.stringify(role)}`);
    if (!TOKEN.test(token)) throw new Error(`${where} (${name}): a token is 24 to 512 characters of base64 or hex (make one with \`openssl rand -hex 32\`)`);
    if (tokens.some((t) => t.name === name)) throw new Error(`${where}: the name ${name} is given twice`);
    if (tokens.some((t) => t.token === token)) throw new Error(`${where} (${name}): this token is already ${tokens.find((t) => t.token === token)!.name}'s`);
    tokens.push({ name, role: role as Role, token });
  });
  return tokens;
}

/**
 * The tokens of `bulwark serve`: from `file` when given, else from BULWARK_TOKENS; none
 * when neither is set. `warn` hears about a file other users can read.
 */
export function loadTokens(o: { file?: string | undefined; env?: NodeJS.ProcessEnv; warn?: (message: string) => void }): ApiToken[] {
  if (o.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.file, "utf8");
    } catch (e) {
      throw new Error(`cannot read the tokens file ${o.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (process.platform !== "win32" && (statSync(o.file).mode & 0o077) !== 0) o.warn?.(`${o.file} can be read by other users of this machine: chmod 600 it`);
    const tokens = parseTokens(text, o.file);
    if (tokens.length === 0) throw new Error(`the tokens file ${o.file} has no tokens (entries are name:role:token)`);
    return tokens;
  }
  const env = (o.env ?? process.env).BULWARK_TOKENS;
  return env && env.trim() !== "" ? parseTokens(env, "BULWARK_TOKENS") : [];
}

/** Checks a request's `Authorization: Bearer …` against the tokens, in constant time. */
export class TokenCheck {
  private readonly known: { digest: Buffer; who: Principal }[];

  constructor(tokens: readonly ApiToken[]) {
    // Compared as digests: equal lengths for timingSafeEqual, and no early exit on a prefix.
    this.known = tokens.map((t) => ({ digest: sha256(t.token), who: { name: t.name, role: t.role } }));
  }

  /** The holder of the bearer token in `authorization`, or undefined. */
  who(authorization: string | undefined): Principal | undefined {
    const m = /^Bearer +(\S+)\s*$/i.exec(authorization ?? "");
    if (!m) return undefined;
    const presented = sha256(m[1]!);
    let found: Principal | undefined;
    // Every token is compared, found or not: the time taken says nothing about which.
    for (const k of this.known) if (timingSafeEqual(k.digest, presented)) found = k.who;
    return found;
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** What a client without a good token is told (401, with `WWW-Authenticate: Bearer …`). */
export function unauthorized(authorization: string | undefined): string {
  return authorization ? "this token is not valid here" : "this server needs a token: send Authorization: Bearer <token>";
}
export const WWW_AUTHENTICATE = 'Bearer realm="bulwark"';

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** Whether `host` (an address to bind, or a Host header's name) is loopback. */
export const isLoopback = (host: string): boolean => LOOPBACK.has(host);

/**
 * Without tokens a server binds only loopback: on a wider address anyone on the network
 * could do what `exposes` says. Throws, naming where tokens come from.
 */
export function refuseOpenBind(host: string, tokens: readonly ApiToken[], exposes: string): void {
  if (!isLoopback(host) && tokens.length === 0)
    throw new Error(`refusing to bind ${host} without tokens: anyone on the network could ${exposes}. Give tokens (BULWARK_TOKENS or --tokens-file), or bind 127.0.0.1`);
}

/** The name in a Host header, lower case: `[::1]` keeps its brackets, a port is dropped. */
export function hostName(hostHeader: string | undefined): string {
  if (!hostHeader) return "";
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.replace(/:\d+$/, "").toLowerCase();
}

/**
 * The host names a server bound to `bindHost` answers to (DNS rebinding arrives under the
 * attacker's name, never an IP): bound to loopback, loopback names only; bound wider, IP
 * addresses, loopback names and `allowedHosts`.
 */
export function hostCheck(bindHost: string, allowedHosts: readonly string[] = []): (hostHeader: string | undefined) => boolean {
  const loopbackOnly = isLoopback(bindHost);
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (hostHeader) => {
    const name = hostName(hostHeader);
    return isLoopback(name) || (!loopbackOnly && (allowed.has(name) || isIP(name.replace(/^\[(.*)\]$/, "$1")) !== 0));
  };
}
