/**
 * openStore: a store from its description. (The durable stores are added by the
 * durable-state work; until then only memory and ready-made stores are accepted.)
 */
import { memoryStore } from "./memory.js";
import type { Store } from "./types.js";

export async function openStore(spec: string | Store): Promise<Store> {
  if (typeof spec === "object" && spec !== null) return spec;
  if (spec === "memory") return memoryStore();
  throw new Error(`unknown store ${JSON.stringify(spec)}: use "memory", "sqlite:<path>", "postgres://…" or a Store object`);
}
