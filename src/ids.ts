/** Ids the runtime makes. A leaf: it imports nothing of the project. */
import { randomFillSync } from "node:crypto";

/**
 * A UUID version 7: the time in ms, then 74 random bits. Call ids key the ledger, and ids
 * that grow with time are appended to the end of its index instead of landing on a random
 * page of it (one page written per call fewer, once the index outgrows memory).
 */
export function timeOrderedId(now = Date.now()): string {
  const ms = Math.max(0, Math.floor(now));
  // Many ids are made within one millisecond: its text is made once.
  if (ms !== lastMs) {
    const t = ms.toString(16).padStart(12, "0").slice(-12);
    lastMs = ms;
    lastPrefix = `${t.slice(0, 8)}-${t.slice(8, 12)}-7`;
  }
  return lastPrefix + randomTail();
}

let lastMs = -1;
let lastPrefix = "";

/** Random bytes drawn ahead, 10 an id (as randomUUID keeps a cache of its own). */
const pool = Buffer.allocUnsafe(10 * 1024);
let at = pool.length;
const VARIANT = ["8", "9", "a", "b"];

/**
 * The UUID's text after its version digit, 74 random bits: "xxx-Vxxx-xxxxxxxxxxxx", V the
 * variant (8 to b). Made from the pool as text in one step, not as a whole random UUID cut.
 */
function randomTail(): string {
  if (at + 10 > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  // 18 hex digits (72 bits) and 2 bits of the 10th byte, which the digits do not show.
  const h = pool.toString("hex", at, at + 9);
  const v = VARIANT[pool[at + 9]! & 3]!;
  at += 10;
  return `${h.slice(0, 3)}-${v}${h.slice(3, 6)}-${h.slice(6, 18)}`;
}
