/**
 * Failures as values. Every refusal or failure of a guarded call is a `Failure` with a
 * stable `kind` for code and a `message` written for the model: what happened, and what
 * to do instead. All wording lives here so that it stays consistent.
 */
import { describeThrown } from "./thrown.js";

// Where they were first made, and still imported from.
export { describeThrown, RuntimeClosedError } from "./thrown.js";
import { RuntimeClosedError } from "./thrown.js";
import type { Failure, FailureKind, Note } from "./failure-kinds.js";

export * from "./failure-kinds.js";

const make = (
  kind: FailureKind,
  message: string,
  retryable: boolean,
  detail?: Record<string, unknown>,
): Failure => (detail ? { kind, message, retryable, detail } : { kind, message, retryable });

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const seconds = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${Math.round(ms)}ms`);

/** The one place where failures are made. */
export const failures = {
  invalidInput: (tool: string, problems: string[]) =>
    make(
      "invalid_input",
      `The arguments for ${tool} are invalid: ${problems.join("; ")}. Fix these arguments and call ${tool} again; do not guess values you do not have, ask the user instead.`,
      false,
      { problems },
    ),

  unknownTool: (tool: string, known: string[]) =>
    make("unknown_tool", `There is no tool named ${tool}. The tools are: ${known.join(", ")}.`, false, { known }),

  invalidOutput: (tool: string, problems: string[]) =>
    make(
      "invalid_output",
      `${tool} returned a malformed response (${problems.join("; ")}). Do not use any part of it. The tool may be broken: try another way, or tell the user this information is unavailable right now.`,
      false,
      { problems },
    ),

  implausibleOutput: (tool: string, reason: string) =>
    make(
      "implausible_output",
      `${tool} returned a response that failed a sanity check: ${reason}. Do not act on it or repeat it to the user; verify through another source or tell the user it could not be confirmed.`,
      false,
      { reason },
    ),

  timeout: (tool: string, ms: number, attempts: number) =>
    make(
      "timeout",
      `${tool} did not answer within ${seconds(ms)}${attempts > 1 ? ` (${attempts} attempts)` : ""}. Its effect, if any, is unknown. Do not assume it succeeded; you may call it again later with the same arguments, which is safe.`,
      true,
      { timeoutMs: ms, attempts },
    ),

  /** A tool that answered only after holding the event loop past its timeout: its effect took place. */
  overran: (tool: string, ms: number, tookMs: number) =>
    make(
      "timeout",
      `${tool} answered after ${seconds(tookMs)}, past its time limit of ${seconds(ms)}: it kept the process busy, so it could not be stopped in time. Its effect took place and is recorded. Do not call it again for the same change.`,
      false,
      { timeoutMs: ms, tookMs: Math.round(tookMs), effect: "happened" },
    ),

  /** A write whose last attempt may have landed (a timeout, an error the tool did not declare), not retried. */
  effectUnknown: (tool: string, kind: "timeout" | "tool_error", what: string, attempts: number) =>
    make(
      kind,
      `${tool} ${what}${attempts > 1 ? ` (attempt ${attempts})` : ""}, and it may have taken effect. It was not retried, so it was not done twice. Do not tell the user it was done or not done. Calling it again with the same arguments is safe: it will not run again unless its effect is found not to have happened; otherwise a person must check it.`,
      false,
      { attempts, effectUnknown: true },
    ),

  bulkheadTimeout: (tool: string, ms: number, limit: number) =>
    make(
      "timeout",
      `${tool} is saturated (${limit} calls already in flight) and no slot freed within ${seconds(ms)}. It was not called. Wait before calling it again, or do something else first.`,
      true,
      { timeoutMs: ms, concurrency: limit, saturated: true },
    ),

  toolError: (tool: string, error: string, attempts: number, retryable: boolean) =>
    make(
      "tool_error",
      `${tool} failed${attempts > 1 ? ` after ${attempts} attempts` : ""}: ${error}. ${retryable ? "It may work later; do not call it again in a loop." : "Calling it again with the same arguments will fail the same way; change the approach or tell the user."}`,
      retryable,
      { error, attempts },
    ),

  /** The tool did not act: it asked for input first (a ToolError with `inputRequired`). */
  inputRequired: (tool: string, error: string) =>
    make(
      "input_required",
      `${tool} did not act: it needs input first (${error}). Get that input (ask the user if it is theirs to give), then call it again with the same arguments and the input.`,
      true,
      { error },
    ),

  breakerOpen: (tool: string, failed: number, of: number, retryInMs: number, lastError?: string) =>
    make(
      "breaker_open",
      `${tool} is failing (${failed} of the last ${of} calls${lastError ? `; last error: ${lastError}` : ""}) and is cut off for ${seconds(retryInMs)}. It was not called. Do not retry it now; continue without it or tell the user this action cannot be done right now.`,
      true,
      { failed, of, retryInMs, lastError },
    ),

  retryBudgetExhausted: (tool: string, error: string) =>
    make(
      "retry_budget_exhausted",
      `${tool} failed (${error}) and its retry budget is spent: too many calls to it are failing across all runs, so it was not retried. Do not call it again now; tell the user this action could not be completed.`,
      true,
      { error },
    ),

  idempotencyConflict: (tool: string, key: string) =>
    make(
      "idempotency_conflict",
      `${tool} was already called with the idempotency key ${key} but different arguments. Nothing was done. If you mean a new, separate action, it needs its own key; if you meant the earlier action, repeat it with the original arguments.`,
      false,
      { key },
    ),

  unsettledEffect: (tool: string, key: string, why: string) =>
    make(
      "write_unverified",
      `An earlier ${tool} call with the same intent (key ${key}) was interrupted after it may have taken effect, and ${why}. It was not run again, so nothing is done twice. Do not tell the user it was done or not done: a person must check it.`,
      false,
      { key, why, unsettled: true },
    ),

  claimLost: (tool: string, key: string) =>
    make(
      "write_unverified",
      `${tool} ran, but this process lost its claim on the call (key ${key}) while it ran: it was paused or cut off for longer than its lease, and another caller took the call over. It is not reported as done, and it was not run again here. Do not tell the user it was done or not done; a person must check it.`,
      false,
      { key, claimLost: true },
    ),

  writeUnverified: (tool: string, reason: string) =>
    make(
      "write_unverified",
      `${tool} reported success, but the change could not be confirmed by reading it back (${reason}). Do not tell the user it was done. Check the state yourself, or hand this to a person.`,
      false,
      { reason },
    ),

  contradiction: (key: string, detail: string) =>
    make(
      "contradiction",
      `Sources of equal authority disagree about ${key}: ${detail}. Do not pick one; tell the user you cannot confirm this and that a person will check it.`,
      false,
      { key },
    ),

  staleData: (key: string, ageMs: number, maxAgeMs: number, source: string) =>
    make(
      "stale_data",
      `The value of ${key} from ${source} is ${seconds(ageMs)} old, older than the allowed ${seconds(maxAgeMs)}. Do not rely on it; fetch a fresh value first.`,
      true,
      { key, ageMs, maxAgeMs, source },
    ),

  destructiveBudgetExceeded: (tool: string, limit: number) =>
    make(
      "destructive_budget_exceeded",
      `${tool} was not run: this run has already made ${limit} destructive change${limit === 1 ? "" : "s"}, its limit. No more changes can be made in this run; stop and tell the user a person must review what was done.`,
      false,
      { limit },
    ),

  frozen: (tool: string, until?: number, reason?: string) =>
    make(
      "frozen",
      `${tool} was not run: changes are frozen${reason ? ` (${reason})` : ""}${until !== undefined ? ` until ${new Date(until).toISOString()}` : ""}. Do not try to make this change another way. Reading is still allowed; tell the user the change must wait until the freeze ends.`,
      false,
      until !== undefined || reason ? { ...(until !== undefined ? { until } : {}), ...(reason ? { reason } : {}) } : undefined,
    ),

  checkpointFailed: (tool: string, error: string) =>
    make(
      "tool_error",
      `${tool} was not run: the checkpoint taken before it (a backup to restore from) failed: ${error}. Nothing was changed. Do not try to make this change another way; tell the user it must wait until a checkpoint can be taken.`,
      true,
      { error, checkpoint: "failed" },
    ),

  approvalRequired: (tool: string, approvalId: string, why?: string) =>
    make(
      "approval_required",
      `${tool} needs a person's approval before it runs${why ? ` (${why})` : ""}; request ${approvalId} is waiting. It was not run. Tell the user the action is waiting for approval; once approved, the same call will go through.`,
      true,
      why ? { approvalId, why } : { approvalId },
    ),

  policyViolation: (tool: string, rule: string, reason: string) =>
    make(
      "policy_violation",
      `${tool} was not run: it breaks the rule "${rule}": ${reason}. This is the policy, not a fault, so repeating the call or making the same change another way will not help. Tell the user it is not allowed and why, or offer what the policy allows.`,
      false,
      { rule, reason },
    ),

  factNeeded: (tool: string, rule: string, key: string, hint: string | undefined) =>
    make(
      "policy_violation",
      `${tool} was not run yet: the rule "${rule}" must check ${key}, which this run has not read. ${hint ? capitalize(hint) : `Read ${key} first`}, then call ${tool} again.`,
      true,
      { rule, fact: key, missing: true },
    ),

  factContested: (tool: string, rule: string, key: string, sources: string[]) =>
    make(
      "policy_violation",
      `${tool} was not run: the rule "${rule}" must check ${key}, and the sources this run read disagree about it (${sources.join(", ")}). Do not make this change; tell the user a person will confirm ${key}.`,
      false,
      { rule, fact: key, contested: sources },
    ),

  ruleFailed: (tool: string, rule: string, error: string) =>
    make(
      "policy_violation",
      `${tool} was not run: the rule "${rule}" could not be checked (${error}), and a call that cannot be checked is refused. This is a fault in the policy, not in your arguments: do not repeat the call; tell the user a person must look at it.`,
      false,
      { rule, error, ruleFailed: true },
    ),

  approvalDenied: (tool: string, by: string | undefined, reason: string | undefined) =>
    make(
      "approval_denied",
      `${tool} was denied by ${by ?? "a reviewer"}${reason ? `: ${reason}` : ""}. It was not run and will not be. Do not try to achieve the same effect another way; tell the user it was declined.`,
      false,
      { by, reason },
    ),

  verificationRequired: (tool: string, depth: number, readers: string[] = []) =>
    make(
      "verification_required",
      `${tool} was not run: the last ${depth} changes in this run were not verified. ${
        readers.length
          ? `Read them back first (call ${readers.join(" or ")}), then call ${tool} again.`
          : "Verify the current state first (read it back, or ask for approval) before making further changes."
      }`,
      false,
      { depth, ...(readers.length ? { readers } : {}) },
    ),

  storeUnavailable: (tool: string, error: string) =>
    make(
      "store_unavailable",
      `${tool} was not run: Bulwark's state store is unavailable (${error}), and a change cannot be made safely without it. Nothing was changed. Try again in a moment, or tell the user the action is delayed.`,
      true,
      { error },
    ),

  invalidFact: (tool: string, key: string, problem: string) =>
    make(
      "invalid_output",
      `${tool} returned a malformed fact ${key}: ${problem}. Do not use this response or repeat it to the user; check another source, or tell the user this cannot be confirmed right now.`,
      false,
      { fact: key, problem },
    ),

  factsUnreadable: (tool: string, error: string) =>
    make(
      "invalid_output",
      `The facts in ${tool}'s response could not be read (${error}), so it cannot be checked against other sources. Do not rely on this response; try another source, or tell the user this cannot be confirmed right now.`,
      false,
      { error },
    ),

  handedOff: (reason: string) =>
    make(
      "handed_off",
      `This conversation has been handed to a person (${reason}). Do not try any further actions and do not guess an answer. Tell the user that a person will follow up with them, and stop.`,
      false,
      { reason, handedOff: true },
    ),

  runHalted: (reason: string) =>
    make(
      "run_halted",
      `This run has been halted: ${reason}. No further actions will be carried out. Stop, and tell the user what was done so far and that a person will follow up.`,
      false,
      { reason },
    ),

  /** A call cut short because the run was stopped, or its runtime closed (the cancel signal's reason). */
  stopped: (reason: unknown): Failure => (reason instanceof RuntimeClosedError ? failures.runtimeClosed() : failures.runHalted(describeThrown(reason ?? "stopped"))),

  runtimeClosed: () =>
    make(
      "runtime_closed",
      "This call was cut short: the service running it is shutting down. If it had started, its effect is unknown, so do not tell the user it was done or not done. The run is not over: calling it again with the same arguments later is safe.",
      true,
    ),

  readOnly: (tool: string, reason: string) =>
    make(
      "read_only",
      `${tool} was not run: this run may only read now (${reason}). Do not try to make changes; tell the user a person will complete this.`,
      false,
      { reason },
    ),

  deadlineExceeded: (deadlineMs: number) =>
    make(
      "deadline_exceeded",
      `This run's time limit of ${seconds(deadlineMs)} is used up. No further actions will be carried out; give the user your answer from what you already have.`,
      false,
      { deadlineMs },
    ),

  stepLimit: (maxSteps: number) =>
    make(
      "step_limit",
      `This run has used all of its ${maxSteps} steps. No further actions will be carried out; give the user your answer from what you already have.`,
      false,
      { maxSteps },
    ),
};

/** Notes on successful calls, for the model. */
export const notes = {
  factSuperseded: (key: string, offered: { value: string; source: string }, current: { value: string; source: string }, why: string): Note => ({
    kind: "fact_superseded",
    message: `This response says ${key} is ${offered.value} (from ${offered.source}), but that is out of date or less authoritative: the current value is ${current.value}, from ${current.source} (${why}). Use ${current.value}; do not repeat ${offered.value} to the user.`,
    detail: { key, offered: offered.source, current: current.source, why },
  }),

  factDisputed: (key: string, sources: string[]): Note => ({
    kind: "fact_disputed",
    message: `Sources of equal authority disagree about ${key} (${sources.join(", ")}), and this response does not settle it. Do not state a value for ${key}; tell the user a person will confirm it.`,
    detail: { key, sources },
  }),
};

/** What `run.verifyDecision` tells the model. */
export const decisionMessages = {
  approved: (agreed: string[], disagreed: string[]) =>
    `Verified (agreed: ${agreed.join(", ")}${disagreed.length ? `; disagreed: ${disagreed.join(", ")}` : ""}). You may go ahead with it as written.`,

  rejected: (reasons: string[], current: { key: string; value: string; source: string }[]) =>
    `This draft failed verification and must not be sent or acted on: ${reasons.join("; ")}.${
      current.length ? ` Current values: ${current.map((c) => `${c.key} is ${c.value} (${c.source})`).join("; ")}.` : ""
    } Revise it so that it agrees with the current values, then verify it again; if you cannot, tell the user a person will follow up.`,

  inconclusive: (agreed: number, quorum: number, others: string[]) =>
    `This draft could not be verified (${agreed} of the ${quorum} agreeing check${quorum === 1 ? "" : "s"} needed${others.length ? `; ${others.join("; ")}` : ""}). Do not present it as confirmed: add the facts it relies on (look them up), or tell the user you cannot confirm it.`,

  handedOff: (reason: string) =>
    `This conversation has been handed to a person (${reason}). Do not send this draft or guess another answer. Tell the user that a person will follow up with them.`,
};
