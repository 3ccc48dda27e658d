/**
 * Moments as users, policy files and stores give them: epoch ms, a Date, or text. A leaf:
 * it imports nothing of the project.
 */

/** Turn a date-ish value into epoch ms, or undefined when it is not a valid time. */
export function toEpochMs(v: unknown): number | undefined {
  const ms = v instanceof Date ? v.getTime() : typeof v === "string" ? Date.parse(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

// ISO 8601 with the time and its zone: 2026-07-18T12:00Z, 2026-07-18T12:00:00.000+02:00.
const ZONED_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * A moment for a freeze window: epoch ms, a Date, or ISO 8601 text with its time zone.
 * Text without a zone is refused, not guessed: JavaScript reads "2026-07-18T12:00" in
 * the local zone of whichever machine reads it (a freeze that holds in UTC on one server
 * and four hours later in New York) and "2026-07-18" as UTC midnight.
 */
export function readInstant(v: unknown): { ms: number } | { problem: string } {
  const ms = v instanceof Date ? v.getTime() : typeof v === "number" ? v : typeof v === "string" && ZONED_TIME.test(v.trim()) ? Date.parse(v.trim()) : NaN;
  if (Number.isFinite(ms)) return { ms };
  const zoneless = typeof v === "string" && Number.isFinite(Date.parse(v));
  return {
    problem: zoneless
      ? `${JSON.stringify(v)} has no time zone, so it would mean a different moment on each machine: write it with one, e.g. 2026-07-18T12:00:00Z (UTC) or 2026-07-18T12:00:00-04:00`
      : `${JSON.stringify(v)} is not a time (epoch ms, a Date, or ISO 8601 text with a zone, e.g. 2026-07-18T12:00:00Z)`,
  };
}
