/**
 * Canonical JSON: one text for one value, whatever the key order, so that arguments can be
 * compared and hashed (idempotency fingerprints, approval lookups, fact comparison).
 * Written by hand because it is twenty lines and sits on the hot path of every write call.
 *
 * Only data JSON carries faithfully is accepted: plain objects, arrays, strings, finite
 * numbers, booleans, null, and valid Dates (as ISO text). A class instance (a URL, a
 * Decimal, a user's class) is refused rather than rendered: its own enumerable properties
 * are often nothing (every URL would hash as `{}`, so a webhook to one host would replay
 * another's result), and its `toJSON`, when it has one, is the class's choice, not a
 * faithful copy. Hash what the model sent, not what a schema parsed it into.
 */
import { hash } from "node:crypto";

export class NotJsonError extends Error {
  constructor(readonly path: string, readonly what: string) {
    super(`${path || "the value"} is ${what}, which JSON cannot represent`);
    this.name = "NotJsonError";
  }
}

/** Canonical JSON text of `value`; throws NotJsonError for what JSON cannot carry. */
export function canonicalJson(value: unknown): string {
  return walk(value, [], new Set(), true);
}

/**
 * Throws what canonicalJson would throw, without writing the text: for a value that must
 * be JSON but whose text nobody reads (a tool's response, checked on every call).
 */
export function assertJson(value: unknown): void {
  walk(value, [], new Set(), false);
}

/**
 * The value's canonical text (`text`), or only its check (answers ""). `trail` is the way
 * down to `v` (keys and indexes), made into a path only for an error: on the hot path no
 * path text is built per property.
 */
function walk(v: unknown, trail: (string | number)[], seen: Set<object>, text: boolean): string {
  switch (typeof v) {
    case "string":
      return text ? JSON.stringify(v) : "";
    case "number":
      if (!Number.isFinite(v)) throw new NotJsonError(pathOf(trail), String(v));
      // -0 and 0, 1.0 and 1 are one number in JSON: one text.
      return text ? JSON.stringify(v) : "";
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      throw new NotJsonError(pathOf(trail), "a bigint");
    case "undefined":
      throw new NotJsonError(pathOf(trail), "undefined");
    case "function":
      throw new NotJsonError(pathOf(trail), "a function");
    case "symbol":
      throw new NotJsonError(pathOf(trail), "a symbol");
  }
  if (v === null) return "null";
  const o = v as object;
  if (seen.has(o)) throw new NotJsonError(pathOf(trail), "a circular reference");
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw new NotJsonError(pathOf(trail), "an invalid Date");
    return text ? JSON.stringify(o.toJSON()) : "";
  }
  const array = Array.isArray(o);
  if (!array) {
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw new NotJsonError(pathOf(trail), `an instance of ${className(o)}`);
  }
  seen.add(o);
  const parts: string[] = [];
  if (array) {
    for (let i = 0; i < o.length; i++) {
      trail.push(i);
      parts.push(walk(o[i], trail, seen, text));
      trail.pop();
    }
  } else {
    const r = o as Record<string, unknown>;
    const keys = Object.keys(r);
    if (text) keys.sort();
    for (const k of keys) {
      if (r[k] === undefined) continue;
      trail.push(k);
      const inner = walk(r[k], trail, seen, text);
      trail.pop();
      if (text) parts.push(`${JSON.stringify(k)}:${inner}`);
    }
  }
  seen.delete(o);
  return text ? (array ? `[${parts.join(",")}]` : `{${parts.join(",")}}`) : "";
}

/** `a.b[0].c` for the trail a, b, 0, c; "" at the top. */
function pathOf(trail: readonly (string | number)[]): string {
  let path = "";
  for (const step of trail) path = typeof step === "number" ? `${path}[${step}]` : path ? `${path}.${step}` : step;
  return path;
}

function className(o: object): string {
  const name = (o as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name ? name : "a class";
}

/** A short stable hash of a text, for keys and fingerprints. */
export function digest(text: string): string {
  // crypto.hash (Node 20.12+): one call, no Hash object, on every write call's path.
  return hash("sha256", text, "base64url").slice(0, 32);
}

/** A value as short JSON text for a message: cut at `max` characters, never throwing. */
export function preview(v: unknown, max: number): string {
  if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? "invalid" : v.toISOString()})`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
