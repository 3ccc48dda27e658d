/**
 * A circuit breaker per tool, on Resilience4j's count-based model: the outcomes of the
 * latest `windowSize` attempts; at `minCalls` or more, a failure rate at or above
 * `failureRate` opens it. Open, it refuses calls (the caller reports `breaker_open`)
 * until `halfOpenAfterMs` has passed; then one probe at a time is let through, and the
 * probe's outcome closes it or opens it again.
 *
 * What counts as a failure is decided by the caller (the execute stage), not here.
 *
 * Written here rather than taken from cockatiel: its breaker keeps its state inside its
 * own policy execution, while this one's transitions are published to the store and
 * adopted from other processes (see tool-health.ts), and its window must be fed per
 * attempt by the retry loop of the execute stage.
 */
import type { BreakerOptions } from "../tool.js";

export type BreakerState = "closed" | "open" | "half_open";

export type BreakerVerdict =
  | { allowed: true; probe: boolean }
  | { allowed: false; retryInMs: number; failed: number; of: number; lastError?: string };

export interface BreakerTransition {
  state: BreakerState;
  at: number;
  reason?: string;
}

export class Breaker {
  private readonly outcomes: Uint8Array; // 1 = failure
  private next = 0;
  private count = 0;
  private failures = 0;
  private current: BreakerState = "closed";
  private openedAt = 0;
  private probing = false;
  private lastError: string | undefined;
  /** The window as it stood when the breaker opened, for the message. */
  private openedWith = { failed: 0, of: 0 };

  constructor(
    private readonly options: BreakerOptions,
    private readonly onTransition: (t: BreakerTransition) => void = () => {},
  ) {
    this.outcomes = new Uint8Array(options.windowSize);
  }

  get state(): BreakerState {
    return this.current;
  }

  /** May a call go through now? Half-open admits one probe at a time. */
  check(now: number): BreakerVerdict {
    if (this.current === "closed") return { allowed: true, probe: false };
    if (this.current === "open" && now - this.openedAt >= this.options.halfOpenAfterMs) this.transition("half_open", now);
    if (this.current === "half_open" && !this.probing) {
      this.probing = true;
      return { allowed: true, probe: true };
    }
    return this.refusal(now);
  }

  private refusal(now: number): BreakerVerdict {
    const retryInMs = Math.max(0, this.openedAt + this.options.halfOpenAfterMs - now);
    return { allowed: false, retryInMs, ...this.openedWith, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** Would a call go through now? Like `check`, but takes no probe and changes nothing. */
  peek(now: number): BreakerVerdict {
    const probeDue = this.current === "open" && now - this.openedAt >= this.options.halfOpenAfterMs;
    if (this.current === "closed" || probeDue || (this.current === "half_open" && !this.probing))
      return { allowed: true, probe: this.current !== "closed" };
    return this.refusal(now);
  }

  onSuccess(now: number) {
    if (this.current === "half_open") {
      this.probing = false;
      this.reset();
      this.transition("closed", now);
      return;
    }
    this.push(0);
  }

  onFailure(now: number, error?: string) {
    this.lastError = error;
    if (this.current === "half_open") {
      this.probing = false;
      this.open(now, `probe failed: ${error ?? "failure"}`);
      return;
    }
    this.push(1);
    if (this.current === "closed" && this.count >= this.options.minCalls && this.failures / this.count >= this.options.failureRate) {
      this.openedWith = { failed: this.failures, of: this.count };
      this.open(now, `${this.failures} of the last ${this.count} calls failed${error ? `; last error: ${error}` : ""}`);
    }
  }

  /** A probe that ended without a verdict (cancelled): let another probe through. */
  abandonProbe() {
    this.probing = false;
  }

  /** Take on a state that another process published through the store. */
  adopt(state: BreakerState, openedAt: number, reason?: string) {
    if (state === "open" && (this.current !== "open" || openedAt > this.openedAt)) {
      this.current = "open";
      this.openedAt = openedAt;
      this.probing = false;
      if (reason) this.lastError = reason;
    } else if (state === "closed" && this.current !== "closed" && openedAt >= this.openedAt) {
      this.reset();
      this.current = "closed";
    }
  }

  private open(now: number, reason: string) {
    this.openedAt = now;
    this.transition("open", now, reason);
  }

  private transition(state: BreakerState, at: number, reason?: string) {
    this.current = state;
    this.onTransition({ state, at, ...(reason ? { reason } : {}) });
  }

  private push(failed: 0 | 1) {
    if (this.count === this.outcomes.length) this.failures -= this.outcomes[this.next]!;
    else this.count++;
    this.outcomes[this.next] = failed;
    this.failures += failed;
    this.next = (this.next + 1) % this.outcomes.length;
  }

  private reset() {
    this.outcomes.fill(0);
    this.next = 0;
    this.count = 0;
    this.failures = 0;
    this.lastError = undefined;
  }
}
