/**
 * An error a tool may throw to say how it should be treated: not retryable (a 4xx,
 * a business rule) or retryable after a delay (a rate limit's Retry-After). Beside the
 * tool types: it is part of what a tool's author writes. The execute stage reads its fields
 * structurally, so another library's error with the same fields is treated alike.
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
