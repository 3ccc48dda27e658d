/**
 * Redaction: secrets kept out of what Bulwark stores, logs, traces and shows. Arguments
 * are redacted before they go into the mutations ledger, an approval request or a handoff;
 * error text is redacted before it becomes a failure message, a span status or a log line.
 * Hashes are taken before redaction (idempotency keys and approval fingerprints bind to
 * the arguments as sent), so two calls that differ only in a secret stay two calls.
 *
 * Safe defaults, on every value: a field whose name says secret (password, secret, token,
 * api key, authorization, cookie, credentials, private key…) has its value replaced, and
 * any text shaped like a credential (a bearer token, a JWT, provider keys such as
 * `sk-…`, `ghp_…`, `AKIA…`, a URL's password, `password=…`) is cut out wherever it is. A
 * tool adds its own rule with `redact: (args) => args'` (run first; the defaults then run
 * on what it returns, so a hook cannot turn them off).
 *
 * Written here rather than with fast-redact (pino's): that one redacts known paths, and
 * secrets in agents' arguments sit under names and in shapes, at any depth.
 */

export const REDACTED = "[redacted]";

/** Past this depth a value is not walked (validate-in refuses such arguments anyway). */
const MAX_DEPTH = 64;

/**
 * Names that mark a secret, as whole words of the field's name (camelCase, snake_case,
 * kebab-case and dots are split): `apiKey`, `X-Api-Key`, `db_password`, `refreshToken`.
 * Whole words, so that `author` or `max_tokens` are not taken for secrets.
 */
const SECRET_WORDS = /(?:^|_)(?:pass(?:word|wd|phrase)?|pwd|secret|token|api_?key|apikey|auth|authorization|cookie|set_cookie|credentials?|private_?key|access_?key|secret_?key|session_?(?:id|key)|client_?secret|signature)(?:_|$)/;

/**
 * Text shaped like a credential, wherever it appears. Each entry keeps what is not secret
 * (`Bearer `, the name before `=`) in group 1 when there is one.
 */
const SECRET_SHAPES: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\b((?:[Bb]earer|BEARER)\s+)[A-Za-z0-9._~+/=-]{8,}/g,
  /\b(Basic\s+)(?=[A-Za-z0-9+/]*[\d=])[A-Za-z0-9+/]{8,}={0,2}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, // JWT
  /\b(?:sk|rk|pk)[-_](?:live_|test_|proj-|ant-)?[A-Za-z0-9_-]{16,}/g, // OpenAI, Anthropic, Stripe
  /\b(?:whsec|xox[abprs])[-_][A-Za-z0-9-]{10,}/g, // webhook secrets, Slack
  /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})/g, // GitHub
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bAIza[0-9A-Za-z_-]{35}/g, // Google API keys
  // The password in scheme://user:password@host, up to the authority's last @ (a password may hold one).
  /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@?#]*:)[^\s/?#]+(?=@)/gi,
  // name=value, name: value, "name": "value" (query strings, headers, logged JSON)
  /(\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|refresh[_-]?token|client[_-]?secret|authorization|x-api-key)\b"?\s*[:=]\s*"?)(?!\[redacted\])[^\s"'&,;]+/gi,
];
// One pattern to test a text against before any replacing: most text has no secret.
const ANY_SHAPE = new RegExp(SECRET_SHAPES.map((r) => r.source).join("|"), "i");

const nameCache = new Map<string, boolean>();

/** Whether a field named `name` holds a secret by its name. */
export function isSecretName(name: string): boolean {
  let secret = nameCache.get(name);
  if (secret === undefined) {
    const words = name
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .replace(/[^A-Za-z0-9]+/g, "_")
      .toLowerCase();
    secret = SECRET_WORDS.test(words);
    // Names come from tools' schemas: few, and repeated. The bound keeps hostile input from growing it.
    if (nameCache.size < 10_000) nameCache.set(name, secret);
  }
  return secret;
}

/** `text` with every credential-shaped part replaced. */
export function redactText(text: string): string {
  if (!ANY_SHAPE.test(text)) return text;
  let out = text;
  for (const shape of SECRET_SHAPES) out = out.replace(shape, (_m: string, keep?: unknown) => `${typeof keep === "string" ? keep : ""}${REDACTED}`);
  return out;
}

/**
 * A copy of `value` with secrets replaced by "[redacted]": values of secret-named fields,
 * and credential-shaped text anywhere. Unchanged parts are shared, not copied; the input
 * is never modified. A value too deep to walk is replaced whole (fail closed).
 */
export function redactValue(value: unknown): unknown {
  return walk(value, 0, new Set());
}

function walk(v: unknown, depth: number, seen: Set<object>): unknown {
  if (typeof v === "string") return redactText(v);
  if (typeof v !== "object" || v === null) return v;
  if (depth >= MAX_DEPTH) return `${REDACTED} (nested deeper than ${MAX_DEPTH})`;
  if (seen.has(v)) return "[circular]";
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const r = walk(v[i], depth + 1, seen);
        if (r !== v[i]) (copy ??= v.slice())[i] = r;
      }
      return copy ?? v;
    }
    // Dates, URLs and other instances are shown as JSON shows them, then redacted.
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
      const json = typeof (v as { toJSON?: unknown }).toJSON === "function" ? (v as { toJSON(): unknown }).toJSON() : undefined;
      return json !== undefined && json !== v ? walk(json, depth, seen) : walkEntries(v, depth, seen);
    }
    return walkEntries(v, depth, seen);
  } finally {
    seen.delete(v);
  }
}

function walkEntries(v: object, depth: number, seen: Set<object>): unknown {
  let copy: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const r = isSecretName(k) && x !== null && x !== undefined && typeof x !== "boolean" ? REDACTED : walk(x, depth + 1, seen);
    if (r !== x) (copy ??= { ...v } as Record<string, unknown>)[k] = r;
  }
  return copy ?? v;
}

/** A tool's own redaction rule: what of its arguments may be kept and shown. */
export type RedactHook = (args: any) => unknown;

/**
 * The arguments of a call as they may be stored and shown: the tool's hook first, then
 * the defaults. A hook that throws loses the arguments rather than risk a secret.
 */
export function redactArgs(args: unknown, hook?: RedactHook): unknown {
  let shown = args;
  if (hook) {
    try {
      shown = hook(args);
    } catch {
      return `${REDACTED} (the tool's redact hook failed)`;
    }
  }
  return redactValue(shown);
}

/**
 * `text` (a tool's error) with credential shapes cut, and with the values of the call's
 * secret-named arguments cut wherever they appear: a tool that says "login failed for
 * hunter2" does not put hunter2 in a failure message.
 */
export function redactError(text: string, args: unknown): string {
  let out = redactText(text);
  for (const secret of secretValues(args, 0)) if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  return out;
}

function secretValues(v: unknown, depth: number, found: string[] = [], seen = new Set<object>()): string[] {
  if (typeof v !== "object" || v === null || depth >= MAX_DEPTH || seen.has(v)) return found;
  seen.add(v);
  for (const [k, x] of Object.entries(v)) {
    if ((typeof x === "string" || typeof x === "number") && isSecretName(k)) found.push(String(x));
    else secretValues(x, depth + 1, found, seen);
  }
  return found;
}
