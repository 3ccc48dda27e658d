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
  return write(value, "", new Set());
}

function write(v: unknown, path: string, seen: Set<object>): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      if (!Number.isFinite(v)) throw new NotJsonError(path, String(v));
      // -0 and 0, 1.0 and 1 are one number in JSON: one text.
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      throw new NotJsonError(path, "a bigint");
    case "undefined":
      throw new NotJsonError(path, "undefined");
    case "function":
      throw new NotJsonError(path, "a function");
    case "symbol":
      throw new NotJsonError(path, "a symbol");
  }
  if (v === null) return "null";
  const o = v as object;
  if (seen.has(o)) throw new NotJsonError(path, "a circular reference");
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw new NotJsonError(path, "an invalid Date");
    return JSON.stringify(o.toJSON());
  }
  if (!Array.isArray(o)) {
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw new NotJsonError(path, `an instance of ${className(o)}`);
  }
  seen.add(o);
  let out: string;
  if (Array.isArray(o)) {
    out = `[${o.map((x, i) => write(x, `${path}[${i}]`, seen)).join(",")}]`;
  } else {
    const keys = Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined).sort();
    out = `{${keys.map((k) => `${JSON.stringify(k)}:${write((o as Record<string, unknown>)[k], path ? `${path}.${k}` : k, seen)}`).join(",")}}`;
  }
  seen.delete(o);
  return out;
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
