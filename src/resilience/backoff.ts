/**
 * Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
 * and Jitter"): the delay before retry n is uniform in [0, min(cap, base * 2^(n-1))].
 * Full jitter spreads the retries of many clients that failed together, so that they do
 * not come back together. Three lines, so written here rather than taken from cockatiel,
 * whose backoff objects are tied to its own policy execution.
 */
export function fullJitterDelay(retry: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
