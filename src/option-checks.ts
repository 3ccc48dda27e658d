/**
 * Checks for numeric options, made once when a runtime, policy or tool is built, so that
 * an absurd value fails there with its name instead of misbehaving later: NaN compares
 * false with everything (a guard that never trips), and a Node timer given more than
 * 2^31 - 1 ms, or Infinity or NaN, fires after 1 ms (a 25-day timeout that times out at
 * once, a sweep every millisecond). Each check returns why the value is wrong, or
 * undefined; the caller says whose option it is and throws its own error.
 */

/** The longest a Node timer can wait: 2^31 - 1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const shown = (v: unknown) => (typeof v === "number" ? String(v) : JSON.stringify(v) ?? String(v));

/**
 * A duration in milliseconds: a finite number above 0 (or 0 itself with `zero`), and at
 * most MAX_TIMER_MS when it is waited for with a timer (`timer`).
 */
export function badDuration(v: unknown, o: { zero?: boolean; timer?: boolean } = {}): string | undefined {
  const ok = typeof v === "number" && Number.isFinite(v) && (o.zero ? v >= 0 : v > 0) && (!o.timer || v <= MAX_TIMER_MS);
  if (ok) return undefined;
  const range = `${o.zero ? "0 or more" : "above 0"}${o.timer ? ` and at most ${MAX_TIMER_MS} (about 24.8 days, the longest a timer can wait)` : ""}`;
  return `must be a number of milliseconds ${range}, not ${shown(v)}`;
}

/** A whole number of at least `min`. */
export function badWhole(v: unknown, min: number): string | undefined {
  return Number.isSafeInteger(v) && (v as number) >= min ? undefined : `must be a whole number of at least ${min}, not ${shown(v)}`;
}

/** A finite number of at least `min` (and at most `max`). */
export function badNumber(v: unknown, min: number, max = Infinity): string | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= min && v <= max
    ? undefined
    : `must be a number ${max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`}, not ${shown(v)}`;
}

/** The numeric options of `createRuntime`; a TypeError naming the first that is wrong. */
export function checkRuntimeOptions(o: {
  idempotency?: { retentionMs?: number | undefined; sweepEveryMs?: number | undefined; leaseMs?: number | undefined } | undefined;
  breakerSyncMs?: number | undefined;
  callJournal?: { retentionMs?: number | undefined } | undefined;
  retryBudget?: { retryRatio?: number | undefined; minRetriesPerSecond?: number | undefined; ttlMs?: number | undefined } | undefined;
}): void {
  const checks: [string, unknown, (v: unknown) => string | undefined][] = [
    ["idempotency.retentionMs", o.idempotency?.retentionMs, (v) => badDuration(v)],
    ["idempotency.sweepEveryMs", o.idempotency?.sweepEveryMs, (v) => badDuration(v, { zero: true, timer: true })],
    ["idempotency.leaseMs", o.idempotency?.leaseMs, (v) => badDuration(v, { timer: true })],
    ["breakerSyncMs", o.breakerSyncMs, (v) => badDuration(v, { timer: true })],
    ["callJournal.retentionMs", o.callJournal?.retentionMs, (v) => badDuration(v)],
    ["retryBudget.retryRatio", o.retryBudget?.retryRatio, (v) => badNumber(v, 0)],
    ["retryBudget.minRetriesPerSecond", o.retryBudget?.minRetriesPerSecond, (v) => badNumber(v, 0)],
    ["retryBudget.ttlMs", o.retryBudget?.ttlMs, (v) => badDuration(v)],
  ];
  for (const [name, v, bad] of checks) {
    const why = v === undefined ? undefined : bad(v);
    if (why) throw new TypeError(`createRuntime: ${name} ${why}`);
  }
}
