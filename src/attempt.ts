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
  /** The model's id for this call, when the run was given one (`CallOptions.toolCallId`). */
  toolCallId?: string;
}

export type AttemptResult<T> =
  /** `lateMs`: the answer came this long after the timeout, the event loop held the whole time. */
  | { status: "ok"; value: T; lateMs?: number }
  | { status: "error"; error: unknown }
  | { status: "timeout" }
  | { status: "cancelled"; reason: unknown };

/**
 * What cancels an attempt: an AbortSignal, or a source that makes its signal only when
 * something listens (a lease: see lease.ts), so that a call that ends first makes none.
 */
export type Cancel = AbortSignal | { readonly aborted: boolean; readonly reason: unknown; signal(): AbortSignal };

/** The signal of `cancel`, made if it is made on first use. */
export function signalOf(cancel: Cancel | undefined): AbortSignal | undefined {
  return cancel === undefined || cancel instanceof AbortSignal ? cancel : cancel.signal();
}

/** A ToolContext whose signal is created on first use. */
export class AttemptContext implements ToolContext {
  private controller: AbortController | undefined;
  constructor(
    readonly runId: string,
    readonly callId: string,
    readonly attempt: number,
    readonly idempotencyKey: string | undefined,
    readonly fencingToken?: number,
    readonly toolCallId?: string,
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
  cancel?: Cancel,
): Promise<AttemptResult<T>> {
  if (cancel?.aborted) return Promise.resolve({ status: "cancelled", reason: cancel.reason });
  const startedAt = clock.now();
  let pending: Promise<T> | T;
  try {
    pending = fn(ctx);
  } catch (error) {
    return Promise.resolve({ status: "error", error });
  }
  // A function that answered synchronously needs no timer and no cancellation.
  if (!isThenable<T>(pending)) return Promise.resolve(answered(pending as T, clock, startedAt, timeoutMs));
  return new Running(pending, ctx, timeoutMs, clock, startedAt, cancel).result;
}

/** The answer, with how late it came if it came past the timeout (the event loop held). */
function answered<T>(value: T, clock: Clock, startedAt: number, timeoutMs: number): AttemptResult<T> {
  const late = clock.now() - startedAt - timeoutMs;
  return late > 0 ? { status: "ok", value, lateMs: late } : { status: "ok", value };
}

/**
 * An attempt whose function returned a promise: settled once, by its answer, its timeout
 * or a cancellation. The timer and the cancel listener are armed a microtask later, after
 * the answer's reaction: a function whose promise had already settled (an async function
 * that never waited) is answered by then, and neither is made and removed for it.
 */
class Running<T> {
  readonly result: Promise<AttemptResult<T>>;
  private resolve!: (r: AttemptResult<T>) => void;
  private settled = false;
  private stopTimer: (() => void) | undefined;
  /** The cancel signal listened to, once armed. */
  private signal: AbortSignal | undefined;

  constructor(
    running: PromiseLike<T>,
    private readonly ctx: AttemptContext,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly startedAt: number,
    private readonly cancel: Cancel | undefined,
  ) {
    this.result = new Promise((resolve) => (this.resolve = resolve));
    Promise.resolve(running).then(
      (value) => this.settle(answered(value, clock, startedAt, timeoutMs)),
      (error) => this.settle({ status: "error", error }),
    );
    queueMicrotask(() => this.arm());
  }

  private arm(): void {
    if (this.settled) return;
    const { cancel } = this;
    if (cancel?.aborted) return this.cancelled(cancel.reason);
    this.signal = signalOf(cancel);
    this.signal?.addEventListener("abort", this, { once: true });
    this.stopTimer = this.clock.timer(this.timeoutMs, () => {
      this.ctx.abort(new TimeoutError(this.timeoutMs));
      this.settle({ status: "timeout" });
    });
  }

  /** The cancel signal aborted (this object is its listener). */
  handleEvent(): void {
    this.cancelled(this.signal!.reason);
  }

  private cancelled(reason: unknown): void {
    this.ctx.abort(reason);
    this.settle({ status: "cancelled", reason });
  }

  private settle(r: AttemptResult<T>): void {
    if (this.settled) return;
    this.settled = true;
    this.stopTimer?.();
    this.signal?.removeEventListener("abort", this);
    this.resolve(r);
  }
}

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return v instanceof Promise || (typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function");
}
