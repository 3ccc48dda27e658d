/** Ids the runtime makes. A leaf: it imports nothing of the project. */
import { randomUUID } from "node:crypto";

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
  return lastPrefix + randomUUID().slice(15);
}

let lastMs = -1;
let lastPrefix = "";
