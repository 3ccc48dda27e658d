/**
 * What the runtime reports, and where: spans to an OpenTelemetry tracer (the global one
 * by default, a no-op until the application registers an SDK) and metrics to a
 * prom-client registry the application passes.
 */
import type { Tracer } from "@opentelemetry/api";
import type { Registry } from "prom-client";
import { CallMetrics } from "./metrics.js";
import { defaultTracer } from "./tracing.js";

export interface TelemetryOptions {
  /**
   * The tracer for call spans: a Tracer, or true for the global tracer "bulwark" [none].
   * Opt-in, as the AI SDK's telemetry is: with no SDK registered a span still costs the
   * attributes it is made with, on every call.
   */
  tracer?: Tracer | boolean;
  /** A prom-client registry to register Bulwark's metrics on [none]. */
  metrics?: Registry;
}

export interface Telemetry {
  readonly tracer: Tracer | undefined;
  readonly metrics: CallMetrics | undefined;
}

export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  return {
    tracer: options.tracer === true ? defaultTracer() : options.tracer || undefined,
    metrics: options.metrics ? new CallMetrics(options.metrics) : undefined,
  };
}
