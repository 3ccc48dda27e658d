/**
 * What was thrown: a one-line description of any thrown value for messages and logs, and
 * `ToolError`, which a tool throws to say how its failure should be treated.
 */
import { redactText } from "./redact.js";

/**
 * A short one-line description of whatever was thrown, for messages and logs, with
 * credential-shaped text cut out (an error often quotes the request that failed).
 */
export function describeThrown(thrown: unknown): string {
  return redactText(describe(thrown));
}

function describe(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message || thrown.name;
  if (typeof thrown === "string") return thrown;
  try {
    const json = JSON.stringify(thrown);
    if (json !== undefined) return `non-Error value thrown: ${json.slice(0, 200)}`;
  } catch {
    // fall through: circular or otherwise unserialisable
  }
  return `non-Error value thrown: ${String(thrown)}`;
}

/**
 * An error a tool may throw to say how it should be treated: not retryable (a 4xx,
 * a business rule) or retryable after a delay (a rate limit's Retry-After).
 */
export class ToolError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  /**
   * The call may have taken effect all the same (the connection dropped after the request
   * went out): a write is then not retried unless that is safe, and its claim is kept.
   * Otherwise a ToolError says the call did not take effect [false].
   */
  readonly effectUnknown: boolean;
  constructor(message: string, options: { retryable?: boolean; retryAfterMs?: number; effectUnknown?: boolean; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "ToolError";
    this.retryable = options.retryable ?? true;
    this.retryAfterMs = options.retryAfterMs;
    this.effectUnknown = options.effectUnknown ?? false;
  }
}

/**
 * The reason a closing runtime cancels its calls with (`rt.close()`): a call cut short by it
 * ends as `runtime_closed`, not as a stopped run (the run is not over; it may be resumed).
 */
export class RuntimeClosedError extends Error {
  constructor() {
    super("the runtime is closing");
    this.name = "RuntimeClosedError";
  }
}
