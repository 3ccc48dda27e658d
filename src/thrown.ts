/**
 * What was thrown: a one-line description of any thrown value for messages and logs, and
 * the reason a closing runtime cancels its calls with.
 */
import { redactText } from "./redact.js";

/**
 * A short one-line description of whatever was thrown, for messages and logs, with
 * credential-shaped text cut out (an error often quotes the request that failed).
 */
export function describeThrown(thrown: unknown): string {
  return redactText(describe(thrown));
}

function describe(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message || thrown.name;
  if (typeof thrown === "string") return thrown;
  try {
    const json = JSON.stringify(thrown);
    if (json !== undefined) return `non-Error value thrown: ${json.slice(0, 200)}`;
  } catch {
    // fall through: circular or otherwise unserialisable
  }
  return `non-Error value thrown: ${String(thrown)}`;
}

/**
 * The reason a closing runtime cancels its calls with (`rt.close()`): a call cut short by it
 * ends as `runtime_closed`, not as a stopped run (the run is not over; it may be resumed).
 */
export class RuntimeClosedError extends Error {
  constructor() {
    super("the runtime is closing");
    this.name = "RuntimeClosedError";
  }
}
