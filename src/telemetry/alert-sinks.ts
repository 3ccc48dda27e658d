/**
 * Where alerts are sent: a webhook (JSON, signed with HMAC-SHA256, retried with capped
 * exponential backoff and full jitter), the log (one line), and OpenTelemetry (a log
 * record with the event name `bulwark.alert`, for whatever LoggerProvider the
 * application registered; a no-op without one). `@opentelemetry/api-logs` is an optional
 * peer: an application that registers a LoggerProvider has it.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { requirePeer } from "../optional.js";
import type { Clock } from "../clock.js";
import { fullJitterDelay } from "../resilience/backoff.js";
import type { AlertNotice, AlertSink } from "./alerts.js";

export interface WebhookOptions {
  url: string;
  /** The HMAC key: the receiver checks `bulwark-signature` with it (see verifyWebhookSignature). */
  secret: string;
  /** Attempts before giving up [5]. */
  maxAttempts?: number;
  baseDelayMs?: number; // [500]
  maxDelayMs?: number; // [30_000]
  /** Per attempt [5_000]. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export const SIGNATURE_HEADER = "bulwark-signature";

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the time is signed, so a captured request cannot be replayed later. */
export function signWebhook(secret: string, body: string, seconds: number): string {
  return `t=${seconds},v1=${createHmac("sha256", secret).update(`${seconds}.${body}`).digest("hex")}`;
}

/** For receivers: true if `header` signs `body` with `secret` and is no older than `toleranceSec`. */
export function verifyWebhookSignature(secret: string, header: string, body: string, nowSec = Date.now() / 1000, toleranceSec = 300): boolean {
  const parts = Object.fromEntries(header.split(",").map((kv) => kv.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(nowSec - t) > toleranceSec || typeof parts.v1 !== "string") return false;
  const expected = Buffer.from(signWebhook(secret, body, t).split("v1=")[1]!, "hex");
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export function webhookSink(o: WebhookOptions, clock: Clock, random: () => number = Math.random): AlertSink {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new TypeError(`alerts webhook: "${o.url}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`alerts webhook: ${o.url} must be http or https`);
  if (typeof o.secret !== "string" || o.secret.length < 16) throw new TypeError("alerts webhook: the secret must be a string of at least 16 characters");
  const maxAttempts = o.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError(`alerts webhook: maxAttempts must be a whole number of at least 1, not ${maxAttempts}`);

  const attempt = async (body: string, signal: AbortSignal) => {
    const headers = { "content-type": "application/json", ...o.headers, [SIGNATURE_HEADER]: signWebhook(o.secret, body, Math.floor(clock.now() / 1000)) };
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs ?? 5_000)]) });
    } catch (e) {
      throw new DeliveryError(`${url.origin} unreachable: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`, !signal.aborted);
    }
    await res.body?.cancel();
    if (res.ok) return;
    // A 4xx other than 408/429 will not change by asking again.
    throw new DeliveryError(`${url.origin} answered ${res.status}`, res.status >= 500 || res.status === 408 || res.status === 429);
  };

  return {
    name: `webhook ${url.origin}${url.pathname}`,
    async send(notice, signal) {
      const body = JSON.stringify(notice);
      for (let n = 1; ; n++) {
        try {
          return await attempt(body, signal);
        } catch (e) {
          if (!(e instanceof DeliveryError) || !e.retryable || n >= maxAttempts) throw e;
          await clock.sleep(fullJitterDelay(n, o.baseDelayMs ?? 500, o.maxDelayMs ?? 30_000, random), signal).catch(() => {
            throw new Error(`${e.message}; gave up after ${n} attempts: ${signal.reason instanceof Error ? signal.reason.message : "stopped"}`);
          });
        }
      }
    },
  };
}

/** One line per notice, e.g. `bulwark alert firing [critical] breaker_open: payments is cut off (id …)`. */
export function logSink(write: (line: string) => void = (line) => console.warn(line)): AlertSink {
  return {
    name: "log",
    async send({ event, alert }) {
      const who = event === "acknowledged" && alert.acknowledgedBy ? ` by ${alert.acknowledgedBy}` : "";
      write(`bulwark alert ${event}${who} [${alert.severity}] ${alert.kind}: ${alert.summary} (id ${alert.id})`);
    },
  };
}

/** The part of `@opentelemetry/api-logs` used here (an optional peer: its types are not required). */
interface LogsApi {
  logs: { getLogger(name: string): { emit(record: Record<string, unknown>): void } };
}
/** SeverityNumber.WARN and .ERROR of the OpenTelemetry logs data model. */
const SEVERITY = { warning: { number: 13, text: "WARN" }, critical: { number: 17, text: "ERROR" } } as const;

/**
 * An OpenTelemetry log record named `bulwark.alert` (the Events convention), or undefined
 * when `@opentelemetry/api-logs` is not installed and `required` is false (then nobody
 * could have registered a LoggerProvider to receive it).
 */
export function otelEventSink(required = true): AlertSink | undefined {
  let api: LogsApi;
  try {
    api = requirePeer<LogsApi>("@opentelemetry/api-logs", "Alerts as OpenTelemetry events");
  } catch (e) {
    if (required) throw e;
    return undefined;
  }
  const logger = api.logs.getLogger("bulwark");
  return {
    name: "opentelemetry",
    async send({ event, alert }) {
      const severity = SEVERITY[alert.severity];
      logger.emit({
        eventName: "bulwark.alert",
        severityNumber: severity.number,
        severityText: severity.text,
        body: alert.summary,
        attributes: {
          "bulwark.alert.event": event,
          "bulwark.alert.id": alert.id,
          "bulwark.alert.key": alert.key,
          "bulwark.alert.kind": alert.kind,
          "bulwark.alert.state": alert.state,
          "bulwark.alert.count": alert.count,
          ...(alert.agent !== undefined ? { "gen_ai.agent.name": alert.agent } : {}),
          ...(alert.runId !== undefined ? { "gen_ai.conversation.id": alert.runId } : {}),
          ...(alert.tool !== undefined ? { "gen_ai.tool.name": alert.tool } : {}),
        },
      });
    },
  };
}
