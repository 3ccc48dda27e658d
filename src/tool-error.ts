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
  /**
   * The tool did not act: it needs input first (a confirmation, a choice the user must
   * make), and the same call sent again with that input will act [false]. Such a round
   * ends as `input_required`: not retried, its claim released, and neutral to the run
   * (no failure for the chain breaker or the tool's breaker, no confidence, its
   * destructive slot given back); it still counts as a step.
   */
  readonly inputRequired: boolean;
  constructor(message: string, options: { retryable?: boolean; retryAfterMs?: number; effectUnknown?: boolean; inputRequired?: boolean; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "ToolError";
    this.retryable = options.retryable ?? true;
    this.retryAfterMs = options.retryAfterMs;
    this.effectUnknown = options.effectUnknown ?? false;
    this.inputRequired = options.inputRequired ?? false;
  }
}
