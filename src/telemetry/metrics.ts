/**
 * Prometheus metrics (prom-client), registered on the registry the application passes:
 * call latency as a histogram by tool and outcome, failures by kind, breaker state, and
 * runs leaving normal mode. A library must not write to the global registry uninvited,
 * so without a registry there are no metrics.
 */
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { requirePeer } from "../optional.js";
import type { Outcome } from "../failure.js";

/**
 * A prom-client `Registry`, described by the part Bulwark uses so that Bulwark's types
 * compile without prom-client (an optional peer) installed.
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

/** The call duration histogram's buckets (upper bounds, seconds); the dashboard's latency chart uses the same. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export const BREAKER_STATES = ["closed", "half_open", "open"] as const;

export class CallMetrics {
  private readonly duration: Histogram<"tool" | "effect" | "outcome">;
  private readonly failuresTotal: Counter<"tool" | "kind">;
  private readonly replaysTotal: Counter<"tool">;
  private readonly breaker: Gauge<"tool" | "state">;
  private readonly inFlight: Gauge<"tool">;
  private readonly retries: Counter<"tool">;
  private readonly runModes: Counter<"mode">;
  private readonly alertDeliveries: Counter<"sink" | "result">;
  private readonly refusals: Counter<"tool" | "kind" | "stage" | "enforced">;

  constructor(registry: MetricsRegistry) {
    // An optional peer: the application that passes a registry has it installed.
    const { Counter, Gauge, Histogram } = requirePeer<typeof import("prom-client")>("prom-client", "Metrics", "prom-client@15");
    const registers = [registry as unknown as Registry];
    this.duration = new Histogram({
      name: "bulwark_tool_call_duration_seconds",
      help: "Duration of guarded tool calls, from admission to record, by outcome (ok or the failure kind).",
      labelNames: ["tool", "effect", "outcome"],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.failuresTotal = new Counter({ name: "bulwark_tool_call_failures_total", help: "Failed or refused guarded calls, by kind.", labelNames: ["tool", "kind"], registers });
    this.replaysTotal = new Counter({ name: "bulwark_tool_call_replays_total", help: "Calls answered from an idempotency record instead of executing.", labelNames: ["tool"], registers });
    // One series per state (1 for the current one), so a panel or a rule selects a state by label.
    this.breaker = new Gauge({ name: "bulwark_breaker_state", help: "Tool breaker state in this process: 1 for the current state (closed, half_open, open), 0 for the others.", labelNames: ["tool", "state"], registers });
    this.inFlight = new Gauge({ name: "bulwark_tool_calls_in_flight", help: "Guarded calls in progress, from admission to record.", labelNames: ["tool"], registers });
    this.retries = new Counter({ name: "bulwark_tool_call_retries_total", help: "Attempts retried after a failure (each backoff before another attempt).", labelNames: ["tool"], registers });
    this.refusals = new Counter({
      name: "bulwark_refusals_total",
      help: 'Calls Bulwark refused, by stage and kind; enforced="false": shadow mode recorded the refusal and let the call run.',
      labelNames: ["tool", "kind", "stage", "enforced"],
      registers,
    });
    this.runModes = new Counter({ name: "bulwark_run_mode_changes_total", help: "Runs leaving normal mode, by the mode they entered.", labelNames: ["mode"], registers });
    this.alertDeliveries = new Counter({ name: "bulwark_alert_notifications_total", help: "Alert notices sent to sinks, by sink and result (delivered or failed).", labelNames: ["sink", "result"], registers });
  }

  call(tool: string, effect: string, outcome: Outcome<unknown>, seconds: number) {
    this.inFlight.dec({ tool });
    this.duration.observe({ tool, effect, outcome: outcome.ok ? "ok" : outcome.failure.kind }, seconds);
    if (!outcome.ok) this.failuresTotal.inc({ tool, kind: outcome.failure.kind });
    if (outcome.replayed) this.replaysTotal.inc({ tool });
  }

  refusal(tool: string, kind: string, stage: string, enforced: boolean) {
    this.refusals.inc({ tool, kind, stage, enforced: String(enforced) });
  }

  breakerState(tool: string, state: (typeof BREAKER_STATES)[number]) {
    for (const s of BREAKER_STATES) this.breaker.set({ tool, state: s }, s === state ? 1 : 0);
  }

  started(tool: string) {
    this.inFlight.inc({ tool });
  }

  retried(tool: string) {
    this.retries.inc({ tool });
  }

  runMode(mode: string) {
    this.runModes.inc({ mode });
  }

  alertDelivery(sink: string, ok: boolean) {
    this.alertDeliveries.inc({ sink, result: ok ? "delivered" : "failed" });
  }
}
