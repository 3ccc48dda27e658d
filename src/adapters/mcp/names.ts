/**
 * MCP tool names as Bulwark tool names, one to one. Breakers, idempotency keys and
 * approvals are scoped by the Bulwark name, so two MCP tools must never share one: a
 * lossy rendering made `deploy/staging` replay `deploy staging`'s result.
 */
import { createHash } from "node:crypto";

/** Characters that MCP names commonly use and Bulwark names allow: kept as they are. */
const PLAIN = /[A-Za-z0-9_.-]/;
const MAX = 128;

/**
 * The Bulwark name of an MCP tool: letters, digits, `_`, `.` and `-` stay; any other
 * character (`:` included) becomes `:<hex code point>:`. Since `:` only ever opens or
 * closes an escape, the result decodes one way only, so different names never meet. A
 * name longer than 128 characters after escaping keeps its start and ends with
 * `:h<digest>`, which no escape can produce (`h` is not a hex digit). The empty name is `:`.
 */
export function bulwarkToolName(mcpName: string, prefix = ""): string {
  let out = prefix;
  for (const ch of mcpName) out += PLAIN.test(ch) ? ch : `:${ch.codePointAt(0)!.toString(16)}:`;
  if (out === prefix) out += ":";
  if (out.length <= MAX) return out;
  const digest = `:h${createHash("sha256").update(mcpName).digest("hex").slice(0, 16)}`;
  return out.slice(0, MAX - digest.length) + digest;
}
