/**
 * What the runtime reports, and where: spans to an OpenTelemetry tracer (opt-in) and
 * metrics to a prom-client registry the application passes. A run reports through one
 * small interface, `RunTelemetry`: the run starts, a call starts and ends, a decision is
 * taken, the mode changes, the run ends. What each of those becomes (span, span event,
 * metric) is decided here, not in the run.
 */
import type { Attributes, Tracer } from "@opentelemetry/api";
import type { Clock } from "../clock.js";
import type { Outcome } from "../failure.js";
import type { Store } from "../store/types.js";
import { logSink, otelEventSink, webhookSink, type WebhookOptions } from "./alert-sinks.js";
import { Alerts, type AlertSink } from "./alerts.js";
import { CallMetrics, type MetricsRegistry } from "./metrics.js";
import { Monitors, type MonitorOptions } from "./monitors.js";
import { defaultTracer, recordAsJson, RunSpan, type CallFacts, type CallSpan, type ContentRecorder, type DecisionName, type DecisionSink, type RunFacts } from "./tracing.js";

export interface TelemetryOptions {
  /**
   * The tracer for run and call spans: a Tracer, or true for the global tracer "bulwark"
   * [none]. Opt-in, as the AI SDK's telemetry is: with no SDK registered a span still
   * costs the attributes it is made with, on every call.
   */
  tracer?: Tracer | boolean;
  /** A prom-client registry to register Bulwark's metrics on [none]. */
  metrics?: MetricsRegistry;
  /**
   * Record tools' arguments and results on their spans (`gen_ai.tool.call.arguments` /
   * `.result`) [false]: they may hold personal data, so recording is opt-in. true records
   * them as JSON; a function decides what is recorded (it gets them redacted: see redact.ts), undefined records nothing.
   */
  recordContent?: boolean | ContentRecorder;
}

/** Where alerts are sent, besides the store (which always keeps them). */
export interface AlertOptions {
  /** POST each alert as signed JSON to these URLs. */
  webhook?: WebhookOptions | WebhookOptions[];
  /** One line per alert: true for console.warn, or your own writer [false]. */
  log?: boolean | ((line: string) => void);
  /**
   * An OpenTelemetry log record `bulwark.alert` per alert (no-op without a LoggerProvider)
   * [true when @opentelemetry/api-logs is installed; true without it is an error that says so].
   */
  opentelemetry?: boolean;
  /** Sinks of your own. */
  sinks?: AlertSink[];
}

/** What telemetry needs from the runtime. */
export interface TelemetryHost {
  store: () => Promise<Store>;
  clock: Clock;
  newId: () => string;
  onError: (e: unknown) => void;
  random: () => number;
}

export interface Telemetry {
  readonly tracer: Tracer | undefined;
  readonly metrics: CallMetrics | undefined;
  readonly alerts: Alerts;
  /** Drift and failure-spike monitors (undefined when turned off). */
  readonly monitors: Monitors | undefined;
  /** A tool's breaker changed state in this process. */
  breakerChanged(tool: string, state: "closed" | "open" | "half_open", reason?: string): void;
  /** Begin reporting a run (per turn: a resumed run begins again in the process that takes it up). */
  run(facts: RunFacts): RunTelemetry;
  /** End the spans of runs still open, wait for alerts in flight (the runtime is closing). */
  close(): Promise<void>;
}

function alertSinks(o: AlertOptions, host: TelemetryHost): AlertSink[] {
  const hooks = o.webhook === undefined ? [] : Array.isArray(o.webhook) ? o.webhook : [o.webhook];
  return [
    ...hooks.map((w) => webhookSink(w, host.clock, host.random)),
    ...(o.log ? [logSink(o.log === true ? undefined : o.log)] : []),
    ...(o.opentelemetry === false ? [] : [otelEventSink(o.opentelemetry === true)].filter((s) => s !== undefined)),
    ...(o.sinks ?? []),
  ];
}

export function createTelemetry(options: TelemetryOptions, alertOptions: AlertOptions, monitorOptions: MonitorOptions | false, host: TelemetryHost): Telemetry {
  const tracer = options.tracer === true ? defaultTracer() : options.tracer || undefined;
  const metrics = options.metrics ? new CallMetrics(options.metrics) : undefined;
  const content = options.recordContent === true ? recordAsJson : options.recordContent || undefined;
  const alerts = new Alerts({ ...host, sinks: alertSinks(alertOptions, host), onDelivery: (sink, ok) => metrics?.alertDelivery(sink, ok) });
  const monitors = monitorOptions === false ? undefined : new Monitors({ ...host, alerts }, monitorOptions);
  const open = new Set<RunTelemetry>();
  return {
    tracer,
    metrics,
    alerts,
    monitors,
    breakerChanged(tool, state, reason) {
      metrics?.breakerState(tool, state);
      const key = `breaker_open:${tool}`;
      if (state === "open") alerts.raise({ key, kind: "breaker_open", severity: "critical", tool, summary: `${tool} is cut off by its breaker${reason ? `: ${reason}` : ""}`, details: { reason } });
      else if (state === "closed") alerts.resolve(key);
    },
    run(facts) {
      const t = new RunTelemetry(facts, tracer && new RunSpan(tracer, facts, content), metrics, alerts, monitors, () => open.delete(t));
      open.add(t);
      return t;
    },
    async close() {
      for (const t of open) t.end("normal", "the runtime closed");
      await monitors?.close();
      await alerts.close();
    },
  };
}

/** No refusals (most calls): not a new array per call. */
const NONE: readonly { kind: string; stage?: string; message: string; enforced: boolean }[] = [];

/** Failures that are the tool's own (it threw, it hung); every other failure is a decision of Bulwark's. */
const TOOLS_OWN = new Set(["tool_error", "timeout"]);

export class RunTelemetry implements DecisionSink {
  constructor(
    private readonly run: RunFacts,
    private readonly span: RunSpan | undefined,
    private readonly metrics: CallMetrics | undefined,
    private readonly alerts: Alerts,
    private readonly monitors: Monitors | undefined,
    private readonly closed: () => void,
  ) {}

  /** A call begins; its `decisions` sink goes to the stages (undefined when nothing listens). */
  startCall(c: CallFacts, args: unknown): CallTelemetry {
    return new CallTelemetry(this.span?.startCall(c, args), this.metrics, c, this.monitors, this.run.agent);
  }

  /** A decision checked by `verifyDecision`: a span event, and its verdict and text watched for drift. */
  verdict(verdict: string, text: string, attributes: Attributes): void {
    this.decision("verdict", { "bulwark.verdict": verdict, ...attributes });
    this.monitors?.decision(this.run.agent, "verdict", verdict);
    this.monitors?.text(this.run.agent, "decision texts", text);
  }

  /** A label the application reports (`run.observe`): watched for drift, and a span event. */
  observe(name: string, value: string): void {
    this.decision("observed", { "bulwark.observed.name": name, "bulwark.observed.value": value });
    this.monitors?.decision(this.run.agent, name, value);
  }

  decision(name: DecisionName, attributes?: Attributes): void {
    this.span?.decision(name, attributes);
  }

  /** The run entered `mode` (left normal mode, or was handed to a person). */
  modeChanged(mode: string, reason: string | undefined): void {
    this.metrics?.runMode(mode);
    const name = mode === "halted" ? "halt" : mode === "handed_off" ? "handoff" : mode === "read_only" ? "read_only" : undefined;
    if (name) this.decision(name, reason === undefined ? {} : { "bulwark.reason": reason });
    if (mode === "halted" || mode === "handed_off") {
      const { runId, agent } = this.run;
      const kind = mode === "halted" ? "run_halted" : "run_handed_off";
      const what = mode === "halted" ? "was halted" : "was handed to a person";
      this.alerts.raise({ key: `${kind}:${runId}`, kind, severity: mode === "halted" ? "critical" : "warning", agent, runId, summary: `run ${runId} (${agent}) ${what}${reason ? `: ${reason}` : ""}` });
    }
  }

  end(mode: string, reason?: string): void {
    this.span?.end(mode, reason);
    this.closed();
  }
}

export class CallTelemetry implements DecisionSink {
  constructor(
    private readonly span: CallSpan | undefined,
    private readonly metrics: CallMetrics | undefined,
    private readonly facts: CallFacts,
    private readonly monitors: Monitors | undefined,
    private readonly agent: string,
  ) {
    metrics?.started(facts.tool);
  }

  /** Where the stages tell what they decided; undefined when neither spans nor metrics listen (no cost). */
  get decisions(): DecisionSink | undefined {
    return this.span || this.metrics ? this : undefined;
  }

  decision(name: DecisionName, attributes?: Attributes): void {
    this.span?.decision(name, attributes);
    if (name === "retry") this.metrics?.retried(this.facts.tool);
  }

  within<T>(fn: () => T): T {
    return this.span ? this.span.within(fn) : fn();
  }

  end(outcome: Outcome<unknown>, attempts: number, seconds: number): void {
    const refused = !outcome.ok && !outcome.replayed && !TOOLS_OWN.has(outcome.failure.kind) ? outcome.failure : undefined;
    // Shadow mode's refusals are told as refusals, marked as not enforced.
    const refusals = refused || outcome.shadow ? [...(refused ? [{ ...refused, enforced: true }] : []), ...(outcome.shadow ?? []).map((d) => ({ ...d, enforced: false }))] : NONE;
    if (this.span) {
      if (outcome.replayed) this.span.decision("replayed");
      for (const { kind, stage, message, enforced } of refusals)
        this.span.decision("refused", { "bulwark.failure.kind": kind, ...(stage !== undefined ? { "bulwark.stage": stage } : {}), "bulwark.message": message, ...(enforced ? {} : { "bulwark.enforced": false }) });
      this.span.end(outcome, attempts);
    }
    this.metrics?.call(this.facts.tool, this.facts.effect, outcome, seconds);
    for (const r of refusals) this.metrics?.refusal(this.facts.tool, r.kind, r.stage ?? "run", r.enforced);
    const m = this.monitors;
    if (m) {
      m.decision(this.agent, "tool", this.facts.tool);
      m.decision(this.agent, "outcome", outcome.ok ? "ok" : outcome.failure.kind);
      if (!outcome.ok) m.failure(outcome.failure.kind);
      else if (m.outputs && !outcome.replayed) m.output(this.agent, this.facts.tool, outcome.value);
    }
  }
}
