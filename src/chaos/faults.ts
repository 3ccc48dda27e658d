/**
 * Fault injectors: wrap a tool's function so that it fails the way real dependencies
 * fail — slow, hung, down, flapping, rate-limited, answering after the effect was lost,
 * malformed, plausibly wrong, stale, silently not writing, writing half. Every random
 * choice comes from the seeded generator, every delay from the clock you pass, so a
 * chaos run is reproducible and, with a simulated clock, instant.
 *
 *   const faults = createFaults({ seed: 7, clock });
 *   const charge = inject(api.charge, faults.lostResponse({ rate: 0.3 }), faults.latency({ ms: 200 }));
 *
 * Injectors are listed outermost first: `inject(fn, a, b)` is `a(b(fn))`.
 */
import { systemClock, type Clock } from "../clock.js";
import { ToolError } from "../tool-error.js";
import type { ToolContext } from "../tool.js";
import { seeded, type Random } from "./random.js";

/** The shape of a tool's function (`execute` in defineTool). */
export type ToolFn<I, O> = (args: I, ctx: ToolContext) => Promise<O> | O;

/** Wraps a tool function with a fault. */
export type Injector = <I, O>(fn: ToolFn<I, O>) => ToolFn<I, O>;

/** When an injector fires: a probability per call [1], or a predicate of the call. */
export interface When {
  rate?: number;
  /** Fire only for calls where this is true (e.g. during a window of time). */
  when?: (args: unknown, ctx: ToolContext) => boolean;
}

/** The error a fault raises, so tests can tell an injected failure from a real one. */
export class InjectedFault extends ToolError {
  constructor(
    readonly fault: string,
    message: string,
    options: { retryable?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message, options);
    this.name = "InjectedFault";
  }
}

export interface FaultsOptions {
  seed?: number;
  random?: Random;
  clock?: Clock;
}

export type MalformedKind = "rename" | "wrong_type" | "truncate" | "units";

export function inject<I, O>(fn: ToolFn<I, O>, ...injectors: Injector[]): ToolFn<I, O> {
  return injectors.reduceRight<ToolFn<I, O>>((f, wrap) => wrap(f), fn);
}

export function createFaults(options: FaultsOptions = {}) {
  const random = options.random ?? seeded(options.seed ?? 1);
  const clock = options.clock ?? systemClock;
  const fires = (w: When, args: unknown, ctx: ToolContext) => (w.when ? w.when(args, ctx) : true) && random.chance(w.rate ?? 1);

  /** A wrapper that, when it fires, replaces the call with `faulty`. */
  const wrap =
    (w: When, faulty: <I, O>(fn: ToolFn<I, O>, args: I, ctx: ToolContext) => Promise<O>): Injector =>
    <I, O>(fn: ToolFn<I, O>): ToolFn<I, O> =>
    async (args, ctx) =>
      fires(w, args, ctx) ? faulty(fn, args, ctx) : fn(args, ctx);

  return {
    random,

    /** Slow answers: `ms` plus up to `jitterMs` more. */
    latency: (o: When & { ms: number; jitterMs?: number }) =>
      wrap(o, async (fn, args, ctx) => {
        await clock.sleep(o.ms + (o.jitterMs ? random() * o.jitterMs : 0), ctx.signal);
        return fn(args, ctx);
      }),

    /** No answer: the call waits `ms` [an hour] (or until its signal aborts), then fails. */
    hang: (o: When & { ms?: number } = {}) =>
      wrap(o, async (_fn, _args, ctx) => {
        await clock.sleep(o.ms ?? 3_600_000, ctx.signal);
        throw new InjectedFault("hang", "no response (connection hung)");
      }),

    /** An error instead of an answer; nothing happens. */
    error: (o: When & { message?: string; retryable?: boolean } = {}) =>
      wrap(o, async () => {
        throw new InjectedFault("error", o.message ?? "503 Service Unavailable", { retryable: o.retryable ?? true });
      }),

    /** Down while `down(now)` is true (a window, a sustained outage). */
    outage: (o: { down: (now: number) => boolean; message?: string }) =>
      wrap({ when: () => o.down(clock.now()) }, async () => {
        throw new InjectedFault("outage", o.message ?? "503 Service Unavailable (outage)");
      }),

    /** Up for `upMs`, down for `downMs`, and so on, from `start` [now]. */
    flapping: (o: { upMs: number; downMs: number; start?: number }) => {
      const start = o.start ?? clock.now();
      return wrap({ when: () => (clock.now() - start) % (o.upMs + o.downMs) >= o.upMs }, async () => {
        throw new InjectedFault("flapping", "502 Bad Gateway (flapping)");
      });
    },

    /** At most `limit` calls per `perMs`; beyond, a 429 with Retry-After (ToolError.retryAfterMs). */
    rateLimit: (o: { limit: number; perMs: number }) => {
      const stamps: number[] = [];
      return <I, O>(fn: ToolFn<I, O>): ToolFn<I, O> =>
        async (args, ctx) => {
          const now = clock.now();
          while (stamps.length > 0 && stamps[0]! <= now - o.perMs) stamps.shift();
          if (stamps.length >= o.limit) {
            const retryAfterMs = stamps[0]! + o.perMs - now;
            throw new InjectedFault("rate_limit", `429 Too Many Requests (retry after ${retryAfterMs}ms)`, { retryAfterMs });
          }
          stamps.push(now);
          return fn(args, ctx);
        };
    },

    /** The effect happens, the answer is lost: the caller sees a timeout-like error. */
    lostResponse: (o: When = {}) =>
      wrap(o, async (fn, args, ctx) => {
        await fn(args, ctx);
        throw new InjectedFault("lost_response", "connection reset after the request was sent (response lost)");
      }),

    /** A malformed answer: a renamed field, a wrong type, truncated JSON, or a unit off by 100. */
    malformed: (o: When & { kinds?: MalformedKind[] } = {}) =>
      wrap(o, async (fn, args, ctx) => malform(await fn(args, ctx), random.pick(o.kinds ?? ["rename", "wrong_type", "truncate", "units"]), random) as never),

    /** A plausible but wrong answer: `alter` changes the true answer into a believable one. */
    wrongValue: <T>(o: When & { alter: (value: T, random: Random) => T }) =>
      wrap(o, async (fn, args, ctx) => o.alter((await fn(args, ctx)) as T, random) as never),

    /** A stale answer: the first answer seen for the same arguments, served again. */
    stale: (o: When = {}) => {
      const cache = new Map<string, unknown>();
      return <I, O>(fn: ToolFn<I, O>): ToolFn<I, O> =>
        async (args, ctx) => {
          const key = JSON.stringify(args) ?? "";
          if (cache.has(key) && fires(o, args, ctx)) return cache.get(key) as O;
          const value = await fn(args, ctx);
          if (!cache.has(key)) cache.set(key, value);
          return value;
        };
    },

    /** A write that reports success and does nothing: returns `reply(args)` without calling through. */
    noopWrite: <O>(o: When & { reply: (args: never) => O }) =>
      wrap(o, async (_fn, args) => o.reply(args as never) as never),

    /** A write that applies only part of its arguments (`part`) and reports the whole. */
    partialWrite: <A, O>(o: When & { part: (args: A, random: Random) => A; reply?: (args: A, output: O) => O }) =>
      wrap(o, async (fn, args, ctx) => {
        const output = await fn(o.part(args as never, random) as never, ctx);
        return (o.reply ? o.reply(args as never, output as never) : output) as never;
      }),

    /**
     * A source that contradicts the others: for the same arguments it keeps giving the
     * same altered answer (a second ledger that drifted, not a random glitch).
     */
    contradicting: <T>(o: When & { alter: (value: T, random: Random) => T }) => {
      const decided = new Map<string, boolean>();
      return <I, O>(fn: ToolFn<I, O>): ToolFn<I, O> =>
        async (args, ctx) => {
          const key = JSON.stringify(args) ?? "";
          if (!decided.has(key)) decided.set(key, fires(o, args, ctx));
          const value = await fn(args, ctx);
          return (decided.get(key) ? o.alter(value as unknown as T, random) : value) as O;
        };
    },

    /** Count the calls that reached `fn` (for oracles that measure load). */
    counted:
      (into: { calls: number }): Injector =>
      (fn) =>
      (args, ctx) => {
        into.calls++;
        return fn(args, ctx);
      },
  };
}

export type Faults = ReturnType<typeof createFaults>;

/** Break a well-formed answer in one of the ways APIs break after a deploy. */
export function malform(value: unknown, kind: MalformedKind, random: Random): unknown {
  if (kind === "truncate") {
    const text = JSON.stringify(value) ?? "null";
    return text.slice(0, Math.max(1, Math.floor(text.length * (0.3 + 0.5 * random()))));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return kind === "units" && typeof value === "number" ? value * 100 : String(value);
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(out);
  if (keys.length === 0) return out;
  if (kind === "rename") {
    const k = random.pick(keys);
    out[`${k}_v2`] = out[k];
    delete out[k];
  } else if (kind === "wrong_type") {
    const k = random.pick(keys);
    out[k] = typeof out[k] === "string" ? Number.NaN : String(out[k]);
  } else {
    const numeric = keys.filter((k) => typeof out[k] === "number");
    if (numeric.length > 0) {
      const k = random.pick(numeric);
      out[k] = (out[k] as number) * 100;
    } else out[random.pick(keys)] = String(out[random.pick(keys)]);
  }
  return out;
}
