/**
 * Charts of every run's calls over a window, from the store's call journal: the latency
 * distribution in the buckets of the Prometheus histogram (`bulwark_tool_call_duration_seconds`),
 * so the dashboard and Grafana agree, and the failure kinds per time bucket.
 */
import type { JournaledCall } from "../index.js";
import { LATENCY_BUCKETS_SECONDS } from "../telemetry/metrics.js";

export interface CallStats {
  since: number;
  until: number;
  /** Calls in the window (at most the `limit` newest were counted: `truncated`). */
  calls: number;
  truncated: boolean;
  latency: {
    /** Upper bounds in seconds, as the histogram's `le`; the last count is above the last bound (+Inf). */
    bucketsSeconds: number[];
    /** Calls per bucket (not cumulative): counts[i] took at most bucketsSeconds[i] and more than the bound before. */
    counts: number[];
  };
  failures: {
    bucketMs: number;
    /** Start of each time bucket (epoch ms). */
    times: number[];
    /** Per failure kind, calls failed with it in each time bucket. */
    kinds: Record<string, number[]>;
    /** Calls (ok or not) in each time bucket. */
    total: number[];
  };
}

export function callStats(calls: readonly JournaledCall[], o: { since: number; until: number; timeBuckets: number; truncated: boolean }): CallStats {
  const bounds = [...LATENCY_BUCKETS_SECONDS];
  const counts = new Array<number>(bounds.length + 1).fill(0);
  const bucketMs = Math.max(1, Math.ceil((o.until - o.since) / o.timeBuckets));
  const times = Array.from({ length: o.timeBuckets }, (_, i) => o.since + i * bucketMs);
  const kinds: Record<string, number[]> = {};
  const total = new Array<number>(o.timeBuckets).fill(0);
  for (const c of calls) {
    const s = c.latencyMs / 1000;
    const b = bounds.findIndex((le) => s <= le);
    counts[b === -1 ? bounds.length : b]!++;
    const t = Math.min(o.timeBuckets - 1, Math.floor((c.at - o.since) / bucketMs));
    if (t < 0) continue;
    total[t]!++;
    if (c.failure) (kinds[c.failure.kind] ??= new Array<number>(o.timeBuckets).fill(0))[t]!++;
  }
  return { since: o.since, until: o.until, calls: calls.length, truncated: o.truncated, latency: { bucketsSeconds: bounds, counts }, failures: { bucketMs, times, kinds, total } };
}
