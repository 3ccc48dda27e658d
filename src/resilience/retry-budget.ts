/**
 * A retry budget per tool, in the spirit of the AWS SDK's retry quota and Finagle's
 * RetryBudget: retries spend tokens that calls earn, so that during an outage retries
 * add at most a fixed share of load instead of multiplying it. A floor of tokens refills
 * with time, so a fresh or quiet runtime can always retry a little.
 *
 * Fails by refusing a retry (`tryWithdraw` returns false); the caller reports
 * `retry_budget_exhausted`.
 */
export interface RetryBudgetOptions {
  /** Tokens each call earns: the share of calls that may be retried [0.2]. */
  retryRatio: number;
  /** Retries per second always allowed, whatever the ratio [1]. */
  minRetriesPerSecond: number;
  /** The floor's horizon: the reserve is minRetriesPerSecond * ttlMs / 1000 [10_000]. */
  ttlMs: number;
}

export const retryBudgetDefaults: RetryBudgetOptions = { retryRatio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 };

export class RetryBudget {
  private readonly reserve: number;
  private readonly cap: number;
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly options: RetryBudgetOptions,
    now: number,
  ) {
    this.reserve = (options.minRetriesPerSecond * options.ttlMs) / 1000;
    // Earned tokens are capped too, so a long healthy period cannot bank an unbounded storm.
    this.cap = this.reserve + 100 * options.retryRatio;
    this.tokens = this.reserve;
    this.refilledAt = now;
  }

  /** A call was made: it earns its share. */
  deposit() {
    this.tokens = Math.min(this.cap, this.tokens + this.options.retryRatio);
  }

  /** Take one retry's token, or say no. */
  tryWithdraw(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get balance() {
    return this.tokens;
  }

  private refill(now: number) {
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    // The floor refills at minRetriesPerSecond, up to the reserve only.
    if (this.tokens < this.reserve) this.tokens = Math.min(this.reserve, this.tokens + (elapsed * this.options.minRetriesPerSecond) / 1000);
  }
}
