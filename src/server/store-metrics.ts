/**
 * Prometheus gauges of what the store holds, read at scrape time: runs by status and
 * mode, approvals by status, breakers by tool, handoffs by status, freezes in force.
 * What one process saw of its own calls (latency, failures) is on that process's
 * registry (`createRuntime({ telemetry: { metrics } })`); these are the shared state.
 */
import type { Registry } from "prom-client";
import type { Runtime } from "../index.js";
import { MissingPackageError, requirePeer } from "../optional.js";

import { BREAKER_STATES } from "../telemetry/metrics.js";

/** The registry, or why there is none (prom-client, an optional peer, is not installed). */
export function storeMetricsOrWhyNot(rt: Runtime, now: () => number = Date.now): Registry | string {
  try {
    return storeMetrics(rt, now);
  } catch (e) {
    if (e instanceof MissingPackageError) return e.message;
    throw e;
  }
}

export function storeMetrics(rt: Runtime, now: () => number = Date.now): Registry {
  const { Gauge, Registry } = requirePeer<typeof import("prom-client")>("prom-client", "Prometheus metrics", "prom-client@15");
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: "bulwark_runs",
    help: "Runs in the store, by status (running, ended) and mode (normal, read_only, handed_off, halted).",
    labelNames: ["status", "mode"],
    registers,
    async collect() {
      const counts = new Map<string, { status: string; mode: string; n: number }>();
      for (const r of await rt.store.runs.list()) {
        const k = `${r.status}\u0000${r.mode}`;
        const c = counts.get(k) ?? { status: r.status, mode: r.mode, n: 0 };
        c.n++;
        counts.set(k, c);
      }
      this.reset();
      for (const c of counts.values()) this.set({ status: c.status, mode: c.mode }, c.n);
    },
  });
  new Gauge({
    name: "bulwark_approvals",
    help: "Approval requests in the store, by status (pending, approved, denied).",
    labelNames: ["status"],
    registers,
    async collect() {
      const all = await rt.approvals.list();
      this.reset();
      for (const status of ["pending", "approved", "denied"] as const) this.set({ status }, all.filter((a) => a.status === status).length);
    },
  });
  new Gauge({
    name: "bulwark_store_breaker_state",
    help: "Tool breaker state as published to the store: 1 for the current state (closed, half_open, open), 0 for the others.",
    labelNames: ["tool", "state"],
    registers,
    async collect() {
      const all = await rt.store.breakers.list();
      this.reset();
      for (const b of all) for (const state of BREAKER_STATES) this.set({ tool: b.tool, state }, b.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: "bulwark_approval_pending_age_seconds",
    help: "How long the oldest pending approval request has waited (0 when none is pending).",
    registers,
    async collect() {
      const pending = await rt.approvals.list({ status: "pending" });
      const oldest = Math.min(...pending.map((a) => a.requestedAt));
      this.set(pending.length === 0 ? 0 : Math.max(0, (now() - oldest) / 1000));
    },
  });
  new Gauge({
    name: "bulwark_alerts",
    help: "Open alerts in the store, by state (firing, acknowledged) and kind (drift, breaker_open, run_halted, run_handed_off, failure_spike).",
    labelNames: ["state", "kind"],
    registers,
    async collect() {
      this.reset();
      for (const state of ["firing", "acknowledged"] as const) {
        const counts = new Map<string, number>();
        for (const a of await rt.alerts.list({ state })) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
        for (const [kind, n] of counts) this.set({ state, kind }, n);
      }
    },
  });
  new Gauge({
    name: "bulwark_drift_statistic",
    help: "Each monitor's latest comparison with its baseline (every process's observations, merged in the store): chi_square, p_value and psi for decisions; divergence and threshold for texts; count and threshold for failure spikes; drifting is 1 while it drifts.",
    labelNames: ["kind", "subject", "monitor", "statistic"],
    registers,
    async collect() {
      this.reset();
      for (const v of (await rt.monitors?.list()) ?? []) {
        const labels = { kind: v.kind, subject: v.subject, monitor: v.name };
        const last = (v.state as { last?: Record<string, unknown> }).last ?? {};
        for (const [statistic, name] of STATISTICS) if (typeof last[statistic] === "number") this.set({ ...labels, statistic: name }, last[statistic]);
        this.set({ ...labels, statistic: "drifting" }, v.state.drifting ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "bulwark_breakers_open",
    help: "Tool breakers open in the store.",
    registers,
    async collect() {
      this.set((await rt.store.breakers.list()).filter((b) => b.state === "open").length);
    },
  });
  new Gauge({
    name: "bulwark_handoffs",
    help: "Handoffs to a person in the store, by status (open, closed).",
    labelNames: ["status"],
    registers,
    async collect() {
      const all = await rt.store.handoffs.list();
      this.reset();
      for (const status of ["open", "closed"] as const) this.set({ status }, all.filter((h) => h.status === status).length);
    },
  });
  new Gauge({
    name: "bulwark_freezes_in_force",
    help: "Declared freezes holding now (write and destructive calls are refused while this is above 0).",
    registers,
    async collect() {
      const t = now();
      this.set((await rt.freezes()).filter((f) => inForce(f, t)).length);
    },
  });
  return registry;
}

/** The statistics a monitor's latest comparison may carry, and their metric label. */
const STATISTICS = [["chiSquare", "chi_square"], ["pValue", "p_value"], ["psi", "psi"], ["divergence", "divergence"], ["threshold", "threshold"], ["count", "count"]] as const;

export function inForce(f: { from?: number; to?: number }, t: number): boolean {
  return (f.from === undefined || t >= f.from) && (f.to === undefined || t < f.to);
}
