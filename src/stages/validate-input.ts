/**
 * Validate in: the arguments, first as data, then against the tool's input schema. A
 * call with invalid arguments is refused before anything else happens, with what is wrong.
 *
 * As data: the arguments are copied once, here, and every later stage and the tool see
 * that copy. A getter is read once (so the person approving, the idempotency key and the
 * tool all see one value), and later changes to the caller's object do not reach the
 * call. The copy is bounded, iteratively safe: past the policy's `maxArgumentDepth`
 * (nesting) or `maxArgumentBytes` (size as JSON) the call is `invalid_input` with the
 * limit named, not a stack overflow or a 100 MB row in the ledger; a cycle too (JSON has
 * none). Plain objects and arrays are copied; other objects (a Date, a class instance)
 * are kept as they are. The copy (`copyArguments`) protects Bulwark itself, so shadow
 * mode does not shadow it; the schema (`validateInput`) is a guard like any other.
 * On success the call carries the parsed value (defaults, coercions) from here on.
 */
import { failures } from "../failure.js";
import { validate } from "../schema.js";
import type { Call, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

/** The bounded copy of the arguments, first of all (see above). */
export function copyArguments(call: Call): StageResult {
  const { maxArgumentDepth, maxArgumentBytes } = call.run.policy;
  const copied = snapshot(call.args, maxArgumentDepth, maxArgumentBytes);
  if ("problem" in copied) return failures.invalidInput(call.tool.name, [copied.problem]);
  // What the key, its fingerprint and an approval bind to: the copy, before any schema parses it.
  call.args = call.sent = copied.value;
  return undefined;
}

/** The arguments (already copied) against the tool's input schema. */
export function validateInput(call: Call): Eventually<StageResult> {
  const schema = call.tool.spec.input;
  return schema ? parsed(call, schema) : undefined;
}

async function parsed(call: Call, schema: NonNullable<Call["tool"]["spec"]["input"]>): Promise<StageResult> {
  const r = await validate(schema, call.args);
  if (!r.ok) return failures.invalidInput(call.tool.name, r.problems);
  call.args = r.value;
  return undefined;
}

class Refused extends Error {}

/** A copy of the arguments within the limits, or why there is none. */
export function snapshot(args: unknown, maxDepth: number, maxBytes: number): { value: unknown } | { problem: string } {
  try {
    return { value: new Copy(maxDepth, maxBytes).of(args, 0) };
  } catch (e) {
    if (e instanceof Refused) return { problem: e.message };
    // A getter that throws: the arguments cannot be read.
    return { problem: `the arguments could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** One copy of a call's arguments: its size so far and the objects on the path to where it is. */
class Copy {
  private bytes = 0;
  private readonly onPath = new Set<object>();

  constructor(
    private readonly maxDepth: number,
    private readonly maxBytes: number,
  ) {}

  private count(n: number): void {
    this.bytes += n;
    if (this.bytes > this.maxBytes)
      throw new Refused(`the arguments are larger than ${this.maxBytes} bytes as JSON (policy maxArgumentBytes): pass a reference (a path, a URL, an id) instead of the content`);
  }

  // Recursion is bounded by maxDepth (at most 1000, see policy.ts), checked before descending.
  of(v: unknown, depth: number): unknown {
    if (typeof v === "string") {
      // UTF-8 takes at least a byte per UTF-16 unit: a huge text is refused without measuring it.
      this.count(v.length > this.maxBytes ? v.length : Buffer.byteLength(v) + 2);
      return v;
    }
    if (typeof v !== "object" || v === null) {
      this.count(typeof v === "number" || typeof v === "bigint" ? String(v).length : 5);
      return v;
    }
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      this.count(16);
      return v;
    }
    if (depth >= this.maxDepth) throw new Refused(`the arguments are nested more than ${this.maxDepth} levels deep (policy maxArgumentDepth)`);
    if (this.onPath.has(v)) throw new Refused("the arguments refer to themselves (a cycle), which JSON cannot carry");
    this.onPath.add(v);
    let out: unknown;
    if (Array.isArray(v)) {
      const a: unknown[] = [];
      for (let i = 0; i < v.length; i++) a.push(this.of(v[i], depth + 1));
      this.count(v.length + 2);
      out = a;
    } else {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        this.count(k.length + 4);
        const value = this.of((v as Record<string, unknown>)[k], depth + 1);
        // Defined, not assigned, for a key named __proto__: it stays a key (an assignment
        // would set the copy's prototype). Any other key is assigned: the same, and cheaper.
        if (k === "__proto__") Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
        else o[k] = value;
      }
      out = o;
    }
    this.onPath.delete(v);
    return out;
  }
}
