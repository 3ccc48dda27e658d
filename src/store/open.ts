/**
 * Which store a spec names: "memory", "sqlite:<path>" (or "sqlite::memory:"),
 * "postgres://…" / "postgresql://…", or a Store object, returned as is. A durable store is
 * opened (connected, migrated) here, so a bad spec or an unreachable database fails now.
 */
import { memoryStore } from "./memory.js";
import { postgresStore, redactUrl } from "./postgres/store.js";
import { sqliteStore } from "./sqlite/store.js";
import type { Store } from "./types.js";

const FORMS = `"memory", "sqlite:<path>", "sqlite::memory:", "postgres://user@host:5432/db[?schema=name]" or a Store object`;

function isStore(v: unknown): v is Store {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.close === "function" &&
    ["idempotency", "breakers", "runs", "mutations", "approvals", "handoffs", "freezes"].every(
      (k) => typeof s[k] === "object" && s[k] !== null,
    )
  );
}

/**
 * Check `spec` now and return what opens it. A malformed spec throws here, synchronously,
 * so that `createRuntime` itself refuses it; reaching the database is left to the opener.
 */
export function storeOpener(spec: "memory" | string | Store): () => Promise<Store> {
  if (typeof spec !== "string") {
    if (isStore(spec)) return async () => spec;
    throw new Error(`store: not a Store object; expected ${FORMS}`);
  }
  if (spec === "memory") return async () => memoryStore();
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (!path) throw new Error(`store: "sqlite:" needs a path, e.g. "sqlite:.bulwark/bulwark.db"; expected ${FORMS}`);
    return async () => sqliteStore(path);
  }
  if (spec.startsWith("postgres://") || spec.startsWith("postgresql://")) return () => postgresStore(spec);
  throw new Error(`store: unknown store ${JSON.stringify(redactUrl(spec))}; expected ${FORMS}`);
}

export async function openStore(spec: "memory" | string | Store): Promise<Store> {
  return storeOpener(spec)();
}
