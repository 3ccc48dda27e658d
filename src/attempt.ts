/**
 * One attempt of a tool's function (execute, verify, checkpoint, compensate) under a
 * timeout, settled exactly once. The context's abort signal is made only if the function
 * asks for it or the attempt has to be cancelled: the happy path does no abort work.
 * A function that ignores its signal still times out; its late result is dropped. One that
 * keeps the event loop busy past its timeout cannot be stopped (no timer runs meanwhile): its
 * answer is reported with `lateMs`, how far past the timeout it came, for the caller to say so.
 */
import type { Clock } from "./clock.js";

/** What a tool's function gets on each attempt. */
export interface ToolContext {
  runId: string;
  callId: string;
  /** 1 on the first attempt, then 2, 3… on retries. */
  attempt: number;
  /** For write and destructive tools: the same on every attempt and every repeat of the call. Forward it. */
  idempotencyKey?: string;
  /** Aborted when the call times out, the run is stopped or the runtime closes. */
  signal: AbortSignal;
  /**
   * For write and destructive tools: grows with every claim of a key the store grants.
   * Forward it where the system you write to can refuse a write older than one it has seen
   * (a process paused past its lease, whose key another process took over).
   */
  fencingToken?: number;
}

export type AttemptResult<T> =
  /** `lateMs`: the answer came this long after the timeout, the event loop held the whole time. */
  | { status: "ok"; value: T; lateMs?: number }
  | { status: "error"; error: unknown }
  | { status: "timeout" }
  | { status: "cancelled"; reason: unknown };

/** A ToolContext whose signal is created on first use. */
export class AttemptContext implements ToolContext {
  private controller: AbortController | undefined;
  constructor(
    readonly runId: string,
    readonly callId: string,
    readonly attempt: number,
    readonly idempotencyKey: string | undefined,
    readonly fencingToken?: number,
  ) {}

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  abort(reason: unknown) {
    (this.controller ??= new AbortController()).abort(reason);
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms}ms`);
    this.name = "TimeoutError";
  }
}

/**
 * Run `fn(ctx)` until it settles, `timeoutMs` passes, or `cancel` aborts (a stopped run,
 * a closing runtime). Cancellation aborts the context's signal and settles at once.
 */
export function attempt<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  ctx: AttemptContext,
  timeoutMs: number,
  clock: Clock,
  cancel?: AbortSignal,
): Promise<AttemptResult<T>> {
  if (cancel?.aborted) return Promise.resolve({ status: "cancelled", reason: cancel.reason });
  const startedAt = clock.now();
  const answered = (value: T): AttemptResult<T> => {
    const late = clock.now() - startedAt - timeoutMs;
    return late > 0 ? { status: "ok", value, lateMs: late } : { status: "ok", value };
  };
  let pending: Promise<T> | T;
  try {
    pending = fn(ctx);
  } catch (error) {
    return Promise.resolve({ status: "error", error });
  }
  // A function that answered synchronously needs no timer and no cancellation.
  if (!isThenable<T>(pending)) return Promise.resolve(answered(pending as T));
  const running = pending;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: AttemptResult<T>) => {
      if (settled) return;
      settled = true;
      stopTimer();
      cancel?.removeEventListener("abort", onCancel);
      resolve(r);
    };
    let stopTimer = () => {};
    const onCancel = () => {
      ctx.abort(cancel!.reason);
      settle({ status: "cancelled", reason: cancel!.reason });
    };
    cancel?.addEventListener("abort", onCancel, { once: true });
    Promise.resolve(running).then(
      (value) => settle(answered(value)),
      (error) => settle({ status: "error", error }),
    );
    // Armed a microtask later, after the reaction above: a function whose promise had
    // already settled (an async function that never waited) is answered by then, and no
    // timer is made and cleared for it.
    queueMicrotask(() => {
      if (settled) return;
      stopTimer = clock.timer(timeoutMs, () => {
        ctx.abort(new TimeoutError(timeoutMs));
        settle({ status: "timeout" });
      });
    });
  });
}

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return v instanceof Promise || (typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function");
}
