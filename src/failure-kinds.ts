/**
 * What a failure is: its kinds, the stages that produce them, the outcome of a call, and
 * one table of how each kind is treated. The message builders that make failures are in
 * failure.ts, which re-exports all of this.
 */
export type FailureKind =
  | "invalid_input"
  /** The call named a tool that is not there (e.g. through `bulwark proxy`). */
  | "unknown_tool"
  | "invalid_output"
  | "implausible_output"
  | "timeout"
  | "tool_error"
  | "breaker_open"
  | "retry_budget_exhausted"
  | "idempotency_conflict"
  | "write_unverified"
  | "contradiction"
  | "stale_data"
  | "destructive_budget_exceeded"
  | "frozen"
  | "approval_required"
  | "approval_denied"
  | "verification_required"
  | "run_halted"
  | "read_only"
  | "deadline_exceeded"
  | "step_limit"
  /** The state store could not be reached: mutations fail closed. */
  | "store_unavailable"
  /** A rule of the tool or of the run's policy refused the call (or could not be checked: it fails closed). */
  | "policy_violation"
  /** The run has been handed to a person: only the escalation tool still runs. */
  | "handed_off"
  /** The runtime serving the run closed (`rt.close()`) while the call was under way: the run itself goes on elsewhere or later. */
  | "runtime_closed"
  /** The tool did not act: it needs input first (a ToolError with `inputRequired`); the same call with the input will. */
  | "input_required";

/** The stages of a call, in order (see stages/index.ts); `run` is a fault of the runner itself. */
export type Stage =
  | "admission"
  | "validate-input"
  | "rules"
  | "approval"
  | "idempotency"
  | "checkpoint"
  | "execute"
  | "validate-output"
  | "facts"
  | "verify"
  | "record"
  | "run";

export interface Failure {
  kind: FailureKind;
  /** Written for the model: what happened, and what to do instead. */
  message: string;
  /** Whether the same call may succeed if repeated later. */
  retryable: boolean;
  /**
   * The stage that produced it. Builders leave it out; the runner stamps it on every
   * failure a stage returns (`staged`), so every failure in an outcome has one.
   */
  stage?: Stage;
  /** Structured details for code and dashboards (never needed by the model). */
  detail?: Record<string, unknown>;
}

/**
 * Something the model should know about a call that succeeded: e.g. a fact in the
 * response was outranked by a more authoritative or newer source (`fact_superseded`).
 */
export interface Note {
  kind: "fact_superseded" | "fact_disputed";
  /** Written for the model. */
  message: string;
  detail?: Record<string, unknown>;
}

/**
 * A refusal that shadow mode (`enforce: false`) recorded instead of making: the kind and
 * the message the call would have got, and the stage that would have refused it.
 */
export interface ShadowDecision {
  stage: Stage;
  kind: FailureKind;
  message: string;
}

export type Outcome<O> =
  | {
      ok: true;
      value: O;
      callId: string;
      replayed: boolean;
      notes?: Note[];
      shadow?: ShadowDecision[];
      /** The response was lost, and the tool's probe saw the effect take place: `value` is null. */
      recovered?: boolean;
    }
  | { ok: false; failure: Failure; callId: string; replayed?: boolean; shadow?: ShadowDecision[] };

/** Stamp the stage that produced a failure, unless one already did (a duplicate's joined outcome). */
export function staged<F extends Failure | undefined>(stage: Stage, failure: F): F {
  if (failure && failure.stage === undefined) failure.stage = stage;
  return failure;
}

/**
 * How each kind is treated, in one table (a new kind must say): `neutral` kinds say nothing
 * about the run's reasoning or its picture of the world (they ask the caller to wait for a
 * person, or for the input a tool asked for, or the run is over, or its runtime closed), so
 * neither the chain breaker (by default: see policy.ts) nor confidence counts them;
 * `penalty` names the confidence penalty of the others (decide/confidence.ts),
 * `by-retryable` being the transient or the plain failure's by the failure's own
 * `retryable`. Whether one failure is retryable, and what the model is told to do, is said
 * by its builder below.
 */
export const KINDS: Readonly<Record<FailureKind, { neutral: true } | { neutral: false; penalty: "contradiction" | "writeUnverified" | "staleData" | "by-retryable" }>> = {
  invalid_input: { neutral: false, penalty: "by-retryable" },
  unknown_tool: { neutral: false, penalty: "by-retryable" },
  invalid_output: { neutral: false, penalty: "by-retryable" },
  implausible_output: { neutral: false, penalty: "by-retryable" },
  timeout: { neutral: false, penalty: "by-retryable" },
  tool_error: { neutral: false, penalty: "by-retryable" },
  breaker_open: { neutral: false, penalty: "by-retryable" },
  retry_budget_exhausted: { neutral: false, penalty: "by-retryable" },
  idempotency_conflict: { neutral: false, penalty: "by-retryable" },
  write_unverified: { neutral: false, penalty: "writeUnverified" },
  contradiction: { neutral: false, penalty: "contradiction" },
  stale_data: { neutral: false, penalty: "staleData" },
  destructive_budget_exceeded: { neutral: false, penalty: "by-retryable" },
  frozen: { neutral: false, penalty: "by-retryable" },
  approval_required: { neutral: true },
  approval_denied: { neutral: false, penalty: "by-retryable" },
  verification_required: { neutral: false, penalty: "by-retryable" },
  run_halted: { neutral: true },
  read_only: { neutral: false, penalty: "by-retryable" },
  deadline_exceeded: { neutral: true },
  step_limit: { neutral: true },
  store_unavailable: { neutral: false, penalty: "by-retryable" },
  policy_violation: { neutral: false, penalty: "by-retryable" },
  handed_off: { neutral: true },
  runtime_closed: { neutral: true },
  input_required: { neutral: true },
};

/** The kinds the KINDS table calls neutral. */
export const NEUTRAL_FAILURES: ReadonlySet<FailureKind> = new Set((Object.keys(KINDS) as FailureKind[]).filter((k) => KINDS[k].neutral));
