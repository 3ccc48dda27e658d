/**
 * Prometheus metrics (prom-client), registered on the registry the application passes:
 * call latency as a histogram by tool and outcome, failures by kind, breaker state, and
 * runs leaving normal mode. A library must not write to the global registry uninvited,
 * so without a registry there are no metrics.
 */
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { requirePeer } from "../optional.js";
import type { Outcome } from "../failure.js";
import type { MonitorView } from "./monitors.js";

const SNAKE: Record<string, string> = { chiSquare: "chi_square", pValue: "p_value" };

/**
 * A prom-client `Registry`, described by the part Bulwark uses so that Bulwark's types
 * compile without prom-client (an optional peer) installed.
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

const BREAKER_STATES = { closed: 0, half_open: 1, open: 2 } as const;

export class CallMetrics {
  private readonly duration: Histogram<"tool" | "effect" | "outcome">;
  private readonly failuresTotal: Counter<"tool" | "kind">;
  private readonly replaysTotal: Counter<"tool">;
  private readonly breaker: Gauge<"tool">;
  private readonly runModes: Counter<"mode">;
  private readonly alertDeliveries: Counter<"sink" | "result">;
  private readonly drift: Gauge<"kind" | "subject" | "monitor" | "statistic">;
  private readonly refusals: Counter<"tool" | "kind" | "stage" | "enforced">;

  constructor(registry: MetricsRegistry) {
    // An optional peer: the application that passes a registry has it installed.
    const { Counter, Gauge, Histogram } = requirePeer<typeof import("prom-client")>("prom-client", "Metrics", "prom-client@15");
    const registers = [registry as unknown as Registry];
    this.duration = new Histogram({
      name: "bulwark_tool_call_duration_seconds",
      help: "Duration of guarded tool calls, from admission to record, by outcome (ok or the failure kind).",
      labelNames: ["tool", "effect", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.failuresTotal = new Counter({ name: "bulwark_tool_call_failures_total", help: "Failed or refused guarded calls, by kind.", labelNames: ["tool", "kind"], registers });
    this.replaysTotal = new Counter({ name: "bulwark_tool_call_replays_total", help: "Calls answered from an idempotency record instead of executing.", labelNames: ["tool"], registers });
    this.breaker = new Gauge({ name: "bulwark_breaker_state", help: "Tool breaker state: 0 closed, 1 half-open, 2 open.", labelNames: ["tool"], registers });
    this.refusals = new Counter({
      name: "bulwark_refusals_total",
      help: 'Calls Bulwark refused, by stage and kind; enforced="false": shadow mode recorded the refusal and let the call run.',
      labelNames: ["tool", "kind", "stage", "enforced"],
      registers,
    });
    this.runModes = new Counter({ name: "bulwark_run_mode_changes_total", help: "Runs leaving normal mode, by the mode they entered.", labelNames: ["mode"], registers });
    this.drift = new Gauge({
      name: "bulwark_drift_statistic",
      help: "The latest comparison of each monitor with its baseline: chi_square, p_value and psi for decisions; divergence and threshold for texts; count and threshold for failure spikes; drifting is 1 while it drifts.",
      labelNames: ["kind", "subject", "monitor", "statistic"],
      registers,
    });
    this.alertDeliveries = new Counter({ name: "bulwark_alert_notifications_total", help: "Alert notices sent to sinks, by sink and result (delivered or failed).", labelNames: ["sink", "result"], registers });
  }

  call(tool: string, effect: string, outcome: Outcome<unknown>, seconds: number) {
    this.duration.observe({ tool, effect, outcome: outcome.ok ? "ok" : outcome.failure.kind }, seconds);
    if (!outcome.ok) this.failuresTotal.inc({ tool, kind: outcome.failure.kind });
    if (outcome.replayed) this.replaysTotal.inc({ tool });
  }

  refusal(tool: string, kind: string, stage: string, enforced: boolean) {
    this.refusals.inc({ tool, kind, stage, enforced: String(enforced) });
  }

  breakerState(tool: string, state: keyof typeof BREAKER_STATES) {
    this.breaker.set({ tool }, BREAKER_STATES[state]);
  }

  runMode(mode: string) {
    this.runModes.inc({ mode });
  }

  monitor(v: MonitorView) {
    const labels = { kind: v.kind, subject: v.subject, monitor: v.name };
    const last = (v.state as { last?: Record<string, unknown> }).last;
    for (const statistic of ["chiSquare", "pValue", "psi", "divergence", "threshold", "count"]) {
      const x = last?.[statistic];
      if (typeof x === "number") this.drift.set({ ...labels, statistic: SNAKE[statistic] ?? statistic }, x);
    }
    this.drift.set({ ...labels, statistic: "drifting" }, v.state.drifting ? 1 : 0);
  }

  alertDelivery(sink: string, ok: boolean) {
    this.alertDeliveries.inc({ sink, result: ok ? "delivered" : "failed" });
  }
}
