/**
 * A call's lease on its idempotency claim: renewed every third of its length while the call
 * lives (record stops it). A renewal that finds the claim gone (the process was paused, or
 * cut off from the store, past the lease, and another caller took the key over) cancels the
 * call's work through its ctx.signal and marks it lost: record then reports no success. A
 * renewal the store cannot answer is tried again at the next tick; the lease may lapse
 * meanwhile, which the next renewal or the completion finds.
 *
 * Its cancellation follows the run's (or, for an escalation, the runtime's closing) while
 * the claim is held. Its AbortSignal is made only when something listens (an attempt still
 * running a microtask after it started, a backoff sleep): most calls end first, and a
 * signal per keyed call was the largest cost of a write.
 */
import type { Call, ClaimLease, Env } from "./call.js";

export class Lease implements ClaimLease {
  /** The claim was found taken over: the call reports no success (record). */
  lost = false;
  private controller: AbortController | undefined;
  private lostReason: unknown;
  private ended = false;
  private listening = false;
  private stopTimer: (() => void) | undefined;
  private readonly follows: AbortSignal | undefined;
  private readonly every: number;

  constructor(
    private readonly call: Call,
    private readonly env: Env,
    private readonly leaseMs: number,
  ) {
    this.follows = call.tool.escalation ? call.run.closing : call.run.cancelSignal;
    this.every = Math.max(1, Math.floor(leaseMs / 3));
    this.tick();
  }

  /** Whether the call's work is to stop: the claim lost, or the run stopped (the runtime closing). */
  get aborted(): boolean {
    return this.controller ? this.controller.signal.aborted : this.lost || this.follows?.aborted === true;
  }

  get reason(): unknown {
    return this.controller ? this.controller.signal.reason : this.lost ? this.lostReason : this.follows?.reason;
  }

  /** The signal that aborts when the work is to stop; made on first use. */
  signal(): AbortSignal {
    if (!this.controller) {
      const c = (this.controller = new AbortController());
      if (this.lost) c.abort(this.lostReason);
      else if (this.follows?.aborted) c.abort(this.follows.reason);
      else if (this.follows && !this.ended) {
        // One listener, removed at stop: AbortSignal.any would make a dependent signal that
        // lives until a garbage collection, and that the run's signal walks when it aborts.
        this.follows.addEventListener("abort", this, { once: true });
        this.listening = true;
      }
    }
    return this.controller.signal;
  }

  /** The followed signal aborted (this object is its listener). */
  handleEvent(): void {
    this.controller?.abort(this.follows!.reason);
  }

  stop(): void {
    // Work cancelled before the stop stays cancelled, as a signal made then would be.
    if (!this.controller && this.follows?.aborted) this.signal();
    this.ended = true;
    this.stopTimer?.();
    if (this.listening) this.follows!.removeEventListener("abort", this);
  }

  private tick(): void {
    this.stopTimer = this.env.clock.timer(this.every, () => this.renew());
  }

  private renew(): void {
    const { call, env } = this;
    env.store.idempotency.renew(call.tool.name, call.key!, call.callId, env.clock.now() + this.leaseMs).then(
      (held) => {
        if (this.ended) return;
        if (held) return this.tick();
        this.lost = true;
        this.lostReason = new Error(`${call.tool.name} lost its claim on ${call.key}: another caller took it over`);
        this.controller?.abort(this.lostReason);
      },
      (e) => {
        env.onError(e);
        if (!this.ended) this.tick();
      },
    );
  }
}
