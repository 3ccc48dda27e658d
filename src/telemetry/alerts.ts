/**
 * Alerts: something a person should know now (a breaker opened, a run halted or was
 * handed off, a decision distribution drifted, a failure kind spiked). Each is a record
 * in the store, deduplicated by key across every process on it, then told to the sinks
 * (a webhook, the log, an OpenTelemetry event) once per firing, not once per raise.
 *
 * Raising never blocks a call and never throws into it: the work is queued and tracked,
 * a store or sink that fails is reported (`onError`, the sinks' status, a metric), and
 * `close` waits for what is in flight while cutting retries short.
 */
import type { Clock } from "../clock.js";
import type { AlertRecord, AlertState, NewAlert, Store } from "../store/types.js";

/** What a sink is told: an alert began firing, or was resolved or acknowledged. */
export interface AlertNotice {
  event: "firing" | "resolved" | "acknowledged";
  alert: AlertRecord;
}

export interface AlertSink {
  readonly name: string;
  /** Deliver, retrying as the sink sees fit until `signal` aborts; throw when it gave up. */
  send(notice: AlertNotice, signal: AbortSignal): Promise<void>;
}

/** How a sink has fared, for the API, the dashboard and `bulwark alerts`. */
export interface SinkStatus {
  sink: string;
  delivered: number;
  failed: number;
  lastError?: string;
  lastErrorAt?: number;
}

export type AlertInput = Omit<NewAlert, "id" | "at">;

export interface AlertsDeps {
  store: () => Promise<Store>;
  clock: Clock;
  newId: () => string;
  onError: (e: unknown) => void;
  sinks: readonly AlertSink[];
  /** Told of every delivery, for metrics. */
  onDelivery?: (sink: string, ok: boolean) => void;
}

export class Alerts {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly stopper = new AbortController();
  private readonly status = new Map<string, SinkStatus>();
  /** The last store operation per key: a resolve must not overtake the raise before it. */
  private readonly byKey = new Map<string, Promise<void>>();

  constructor(private readonly deps: AlertsDeps) {
    for (const s of deps.sinks) this.status.set(s.name, { sink: s.name, delivered: 0, failed: 0 });
  }

  /** Raise an alert (fire and forget): recorded, and sent to the sinks if it was not already open. */
  raise(input: AlertInput): void {
    this.inOrder(input.key, async () => {
      const store = await this.deps.store();
      const { alert, fresh } = await store.alerts.raise({ ...input, id: this.deps.newId(), at: this.deps.clock.now() });
      if (fresh) this.notify({ event: "firing", alert });
    });
  }

  /** Resolve the open alert with this key, if there is one (fire and forget). */
  resolve(key: string): void {
    this.inOrder(key, async () => {
      const store = await this.deps.store();
      const alert = await store.alerts.resolve(key, this.deps.clock.now());
      if (alert) this.notify({ event: "resolved", alert });
    });
  }

  async list(filter?: { state?: AlertState; limit?: number }): Promise<AlertRecord[]> {
    return (await this.deps.store()).alerts.list(filter);
  }

  /** A person has seen it: recorded with who; undefined for an unknown id. */
  async acknowledge(id: string, by: string): Promise<AlertRecord | undefined> {
    if (typeof by !== "string" || by.length === 0) throw new TypeError("acknowledge(id, { by }): say who acknowledges");
    const store = await this.deps.store();
    const before = await store.alerts.get(id);
    const alert = await store.alerts.acknowledge(id, by, this.deps.clock.now());
    if (alert && before?.state === "firing") this.notify({ event: "acknowledged", alert });
    return alert;
  }

  sinks(): SinkStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
  }

  /** Wait for the work in flight; retries still waiting are cut short (reported as failed). */
  async close(): Promise<void> {
    this.stopper.abort(new Error("the runtime closed before the alert was delivered"));
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Settle the work in flight without stopping retries (tests, the CLI before it exits). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private notify(notice: AlertNotice) {
    for (const sink of this.deps.sinks) {
      this.track(async () => {
        const s = this.status.get(sink.name)!;
        try {
          await sink.send(notice, this.stopper.signal);
          s.delivered++;
          this.deps.onDelivery?.(sink.name, true);
        } catch (e) {
          s.failed++;
          s.lastError = e instanceof Error ? e.message : String(e);
          s.lastErrorAt = this.deps.clock.now();
          this.deps.onDelivery?.(sink.name, false);
          this.deps.onError(new Error(`alert sink ${sink.name} could not deliver alert ${notice.alert.id} (${notice.alert.kind}): ${s.lastError}`, { cause: e }));
        }
      });
    }
  }

  private inOrder(key: string, work: () => Promise<void>) {
    const before = this.byKey.get(key) ?? Promise.resolve();
    const next = this.track(() => before.then(work));
    this.byKey.set(key, next);
    void next.finally(() => {
      if (this.byKey.get(key) === next) this.byKey.delete(key);
    });
  }

  private track(work: () => Promise<void>): Promise<void> {
    const p = work().catch((e) => this.deps.onError(e));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }
}
