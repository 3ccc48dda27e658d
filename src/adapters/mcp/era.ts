/**
 * The stateless MCP protocol of revision 2026-07-28, as far as the proxy must know it to
 * relay it: which requests belong to it (the envelope in `_meta`), the envelope the
 * guard's own requests carry, the versions a `server/discover` answer may offer through
 * the proxy, and the `resultType` of results. Everything else of the era is relayed as
 * the client and the server wrote it.
 */

/** The `_meta` keys of the per-request envelope (the era has no `initialize`). */
export const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion";
export const CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities";
export const CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo";
const LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel";
const ENVELOPE_KEYS = [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY];

/**
 * The stateless revisions the proxy relays. A later one may change what a result must
 * look like, so a server's offer of it is not passed on (see `discoverResult`).
 */
export const STATELESS_VERSIONS: readonly string[] = ["2026-07-28"];

/** The envelope of a request of the era: its reserved `_meta` keys. */
export type Envelope = Record<string, unknown>;

/** The request's envelope when it claims a stateless revision the proxy relays; else undefined (a 2025 request). */
export function envelopeOf(params: Record<string, unknown> | undefined): Envelope | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  const version = meta?.[PROTOCOL_VERSION_KEY];
  if (typeof version !== "string" || !STATELESS_VERSIONS.includes(version)) return undefined;
  const envelope: Envelope = {};
  for (const key of ENVELOPE_KEYS) if (meta![key] !== undefined) envelope[key] = meta![key];
  return envelope;
}

/** Whether a message (or any message of a batch) is a request of the era. */
export function isStateless(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => typeof m === "object" && m !== null && envelopeOf((m as { params?: Record<string, unknown> }).params) !== undefined);
}

/** The client's name in an envelope, when it gave one. */
export function clientNameOf(envelope: Envelope | undefined): string | undefined {
  const info = envelope?.[CLIENT_INFO_KEY] as { name?: unknown } | undefined;
  return typeof info?.name === "string" ? info.name : undefined;
}

/** Whether a client's capabilities say it can be asked for input in a form (elicitation). */
export function formElicitation(capabilities: unknown): boolean {
  const e = (capabilities as { elicitation?: { form?: unknown; url?: unknown } } | undefined)?.elicitation;
  return e !== undefined && (e.form !== undefined || e.url === undefined);
}

/**
 * A server's answer to `server/discover`, offering only the revisions the proxy relays:
 * a client that finds none of its own among them falls back to `initialize`.
 */
export function discoverResult(result: Record<string, unknown>): Record<string, unknown> {
  const offered = result.supportedVersions;
  if (!Array.isArray(offered)) return result;
  return { ...result, supportedVersions: offered.filter((v) => STATELESS_VERSIONS.includes(v as string)) };
}

/** A result of the era that is final (not `input_required`): every result of the era says which it is. */
export function complete(result: Record<string, unknown>): Record<string, unknown> {
  return result.resultType === undefined ? { ...result, resultType: "complete" } : result;
}

/** Whether the server's answer is unfinished: it needs the client's input, and the same request again with it. */
export function isInputRequired(result: Record<string, unknown>): boolean {
  return result.resultType === "input_required";
}

/** A request's retry fields (the client's answers to `input_required`), which go to the server with it. */
export function retryFields(params: Record<string, unknown>): Record<string, unknown> {
  return {
    ...(params.inputResponses !== undefined ? { inputResponses: params.inputResponses } : {}),
    ...(params.requestState !== undefined ? { requestState: params.requestState } : {}),
  };
}
