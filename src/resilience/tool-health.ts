/**
 * The health of each tool, shared by every run of one runtime: its breaker, its retry
 * budget and its bulkhead, made on first use. Breaker transitions are published to the
 * store, and states published by other processes are adopted on a short interval, so a
 * dependency that is down is cut off for every replica, not only the one that saw it fail.
 */
import type { Clock } from "../clock.js";
import type { BreakerStore } from "../store/types.js";
import type { Tool } from "../tool.js";
import { Breaker, type BreakerState } from "./breaker.js";
import { Bulkhead } from "./bulkhead.js";
import { RetryBudget, type RetryBudgetOptions } from "./retry-budget.js";

export interface ToolHealth {
  readonly breaker: Breaker | undefined;
  readonly budget: RetryBudget;
  readonly bulkhead: Bulkhead | undefined;
}

export class HealthRegistry {
  private readonly tools = new Map<string, ToolHealth>();
  private stopSync: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly budgetOptions: RetryBudgetOptions,
    private readonly breakers: BreakerStore,
    private readonly onError: (error: unknown) => void,
    private readonly onTransition: (tool: string, state: BreakerState, reason?: string) => void = () => {},
  ) {}

  for(tool: Tool): ToolHealth {
    let h = this.tools.get(tool.name);
    if (!h) {
      h = {
        breaker: tool.breaker ? new Breaker(tool.breaker, (t) => this.publish(tool.name, t.state, t.at, t.reason)) : undefined,
        budget: new RetryBudget(this.budgetOptions, this.clock.now()),
        bulkhead: tool.spec.concurrency ? new Bulkhead(tool.spec.concurrency) : undefined,
      };
      this.tools.set(tool.name, h);
    }
    return h;
  }

  /** Adopt the breaker states other processes published, every `intervalMs`. */
  startSync(intervalMs: number) {
    if (this.stopSync) return;
    let running = false;
    const tick = async () => {
      if (running) return;
      running = true;
      try {
        await this.adoptRemote();
      } catch (e) {
        this.onError(e);
      } finally {
        running = false;
      }
    };
    const t = setInterval(tick, intervalMs);
    t.unref();
    this.stopSync = () => clearInterval(t);
  }

  private async adoptRemote() {
    for (const r of await this.breakers.list()) {
      const b = this.tools.get(r.tool)?.breaker;
      if (b && r.openedAt !== undefined && r.state !== "half_open") b.adopt(r.state, r.openedAt, r.reason);
    }
  }

  close() {
    this.stopSync?.();
  }

  private publish(tool: string, state: BreakerState, at: number, reason?: string) {
    this.onTransition(tool, state, reason);
    if (state === "half_open") return;
    this.breakers
      .put({ tool, state, openedAt: at, updatedAt: at, ...(reason ? { reason } : {}) })
      .catch(this.onError);
  }
}
