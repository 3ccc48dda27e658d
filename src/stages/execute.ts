/**
 * Execute: run the tool under its bulkhead and timeout, retrying a bounded number of
 * times with capped exponential backoff and full jitter, while the tool's retry budget
 * and breaker allow. Each attempt's outcome feeds the breaker; a breaker that opens
 * mid-retries ends them. Fails with timeout, tool_error, breaker_open,
 * retry_budget_exhausted, deadline_exceeded, or input_required (the tool asks for input
 * before it acts: see ToolError's `inputRequired`).
 *
 * What counts as retryable is the tool's to say (a thrown ToolError with
 * `retryable: false`, or any error with `retryable === false`); the mechanism is here.
 *
 * A write or destructive attempt that may have landed (a timeout, a cancellation, an error
 * that is not the tool's declared ToolError) is retried only when that is safe: the tool
 * says it is `idempotent` (its system deduplicates on ctx.idempotencyKey), or its `verify`
 * probe says the attempt did not land. A probe that saw it land ends the call as done
 * (`call.recovered`); otherwise the call ends with the effect unknown (`call.ambiguous`),
 * and the record stage keeps its claim unsettled, so that no repeat runs it twice.
 */
import { attempt, AttemptContext, signalOf, type AttemptResult } from "../attempt.js";
import { describeThrown, failures, type Failure } from "../failure.js";
import { cancelOf, probeEffect, toolKey } from "../probe.js";
import { fullJitterDelay } from "../resilience/backoff.js";
import { redactError } from "../redact.js";
import type { Call, Env, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

export function execute(call: Call, env: Env): Promise<StageResult> {
  const health = env.health.for(call.tool);
  health.budget.deposit();
  return attemptFrom(call, env, health, 1);
}

type Health = ReturnType<Env["health"]["for"]>;

/**
 * The n-th attempt and what follows it: a promise chained on the attempt's, no async frame
 * per attempt (a call that succeeds at once waits for its tool and nothing else).
 */
function attemptFrom(call: Call, env: Env, health: Health, n: number): Promise<StageResult> {
  const { tool, run } = call;
  const { breaker, bulkhead } = health;
  const now = env.clock.now();
  // The way to a person is not held to the run's deadline or its stop (see admission).
  const remaining = tool.escalation ? Infinity : run.deadlineAt - now;
  if (remaining <= 0) return Promise.resolve(failures.deadlineExceeded(run.policy.deadlineMs!));
  const timeoutMs = Math.min(tool.timeoutMs, remaining);

  if (breaker) {
    const verdict = breaker.check(now);
    if (!verdict.allowed) return Promise.resolve(failures.breakerOpen(tool.name, verdict.failed, verdict.of, verdict.retryInMs, verdict.lastError));
  }
  if (bulkhead && !bulkhead.tryAcquire()) return afterBulkhead(call, env, health, n, timeoutMs);
  return attemptNow(call, env, health, n, timeoutMs);
}

/** The bulkhead is full: wait for a place (up to the timeout), then attempt. */
async function afterBulkhead(call: Call, env: Env, health: Health, n: number, timeoutMs: number): Promise<StageResult> {
  const bulkhead = health.bulkhead!;
  const got = await bulkhead.acquire((giveUp) => env.clock.timer(timeoutMs, giveUp));
  if (!got) {
    health.breaker?.abandonProbe();
    return failures.bulkheadTimeout(call.tool.name, timeoutMs, bulkhead.limit);
  }
  return attemptNow(call, env, health, n, timeoutMs);
}

function attemptNow(call: Call, env: Env, health: Health, n: number, timeoutMs: number): Promise<StageResult> {
  const { tool, run } = call;
  const ctx = new AttemptContext(run.runId, call.callId, n, toolKey(call), call.fence, call.toolCallId);
  call.attempts = n;
  call.executed = true;
  let running: Promise<AttemptResult<unknown>>;
  try {
    running = attempt((c) => tool.spec.execute(call.args, c), ctx, timeoutMs, env.clock, cancelOf(call));
  } catch (e) {
    health.bulkhead?.release();
    return Promise.reject(e);
  }
  return running.then((result) => {
    health.bulkhead?.release();
    return attempted(call, env, health, n, timeoutMs, result);
  });
}

/** What an attempt's result means: done (at once), or a failure to weigh (retry, probe). */
function attempted(call: Call, env: Env, health: Health, n: number, timeoutMs: number, result: AttemptResult<unknown>): Eventually<StageResult> {
  const { tool } = call;
  const { breaker } = health;
  // A keyed mutation whose repeat is not known to be harmless: its ambiguous attempts count.
  const mayLand = tool.effect !== "read" && call.key !== undefined && tool.spec.idempotent !== true;
  // Whether this attempt may have taken effect without saying so.
  call.ambiguous = mayLand && result.status !== "ok" && !(result.status === "error" && isDeclared(result.error));
  if (result.status === "ok") {
    breaker?.onSuccess(env.clock.now());
    call.output = result.value;
    // It answered, but only after holding the event loop past its timeout (or the run's
    // deadline): its effect took place and is recorded, and the call says it came late.
    if (result.lateMs !== undefined) return failures.overran(tool.name, timeoutMs, timeoutMs + result.lateMs);
    return undefined;
  }
  if (result.status === "cancelled") {
    breaker?.abandonProbe();
    return cancelled(call, result.reason);
  }
  if (result.status === "error" && asksForInput(result.error)) return inputRequired(call, health, n, result.error);
  return failed(call, env, health, n, timeoutMs, result);
}

/** A failed attempt (error or timeout): the breaker told, the effect probed, then a retry or the failure. */
async function failed(call: Call, env: Env, health: Health, n: number, timeoutMs: number, result: AttemptResult<unknown> & { status: "error" | "timeout" }): Promise<StageResult> {
  const { tool, run } = call;
  const { breaker, budget } = health;
  const maxAttempts = tool.retry ? tool.retry.maxAttempts : 1;
  const cutByDeadline = result.status === "timeout" && timeoutMs < tool.timeoutMs;
  // The tool's own words go into the failure, the breaker's record and the span: without the call's secrets.
  const error = result.status === "timeout" ? `timed out after ${timeoutMs}ms` : redactError(describeThrown(result.error), call.args);
  const before = breaker?.state;
  breaker?.onFailure(env.clock.now(), error);
  call.decisions?.decision("attempt_failed", { "bulwark.attempt": n, "bulwark.error": error });
  if (breaker && before !== breaker.state && breaker.state === "open") call.decisions?.decision("breaker_opened", { "bulwark.tool": tool.name, "bulwark.error": error });
  if (cutByDeadline) return failures.deadlineExceeded(run.policy.deadlineMs!);

  if (call.ambiguous && tool.spec.verify) {
    const answer = await probeEffect(call, env, undefined, toolKey(call));
    if ("seen" in answer && answer.seen) {
      call.recovered = true;
      call.output = null; // in the ledger like any effect, for rollback
      call.ambiguous = false;
      return undefined;
    }
    if ("seen" in answer) call.ambiguous = false; // it did not land: as if the tool had said so
  }
  const retryable = result.status === "timeout" || isRetryable(result.error);
  const final = (): Failure =>
    call.ambiguous
      ? failures.effectUnknown(tool.name, result.status === "timeout" ? "timeout" : "tool_error", result.status === "timeout" ? `did not answer within ${timeoutMs}ms` : `failed: ${error}`, n)
      : result.status === "timeout"
        ? failures.timeout(tool.name, timeoutMs, n)
        : failures.toolError(tool.name, error, n, retryable);
  if (!retryable || n >= maxAttempts || !tool.retry || call.ambiguous) return final();
  if (!budget.tryWithdraw(env.clock.now())) return failures.retryBudgetExhausted(tool.name, error);

  const delay = retryAfter(result) ?? fullJitterDelay(n, tool.retry.baseDelayMs, tool.retry.maxDelayMs, env.random);
  if (env.clock.now() + delay >= run.deadlineAt) return final();
  // A breaker that opened (this failure, or other calls') and stays open past the backoff
  // ends the retries now: sleeping first would only delay the same answer.
  const verdict = breaker?.peek(env.clock.now());
  if (verdict && !verdict.allowed && verdict.retryInMs > delay) return failures.breakerOpen(tool.name, verdict.failed, verdict.of, verdict.retryInMs, verdict.lastError);
  call.decisions?.decision("retry", { "bulwark.attempt": n + 1, "bulwark.backoff_ms": delay });
  try {
    await env.clock.sleep(delay, signalOf(cancelOf(call)));
  } catch (reason) {
    return cancelled(call, reason);
  }
  return attemptFrom(call, env, health, n + 1);
}

/**
 * The tool did not act and asks for input first: neither a success nor a failure of the
 * tool (its breaker is not told), not retried (the input must come first), and when this
 * was the only attempt the call is as if the tool had not run (see `Call.executed`): its
 * claim is released and its destructive slot given back, since the call sent again with
 * the input is the one that acts.
 */
function inputRequired(call: Call, health: Health, n: number, error: unknown): Failure {
  health.breaker?.abandonProbe();
  call.ambiguous = false;
  if (n === 1) call.executed = false;
  return failures.inputRequired(call.tool.name, redactError(describeThrown(error), call.args));
}

/** The call's work was cancelled: its run stopped, or its claim was found lost (see the idempotency stage). */
function cancelled(call: Call, reason: unknown): Failure {
  return call.lease?.lost ? failures.claimLost(call.tool.name, call.key!) : failures.stopped(reason);
}

/**
 * An error the tool threw on purpose, saying the call did not take effect: a ToolError, or
 * any error with a boolean `retryable`, unless it says `effectUnknown`. Anything else (a
 * socket reset, a bug) says nothing about whether the write reached its system.
 */
function isDeclared(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { retryable?: unknown; effectUnknown?: unknown };
  return typeof e.retryable === "boolean" && e.effectUnknown !== true;
}

/** A ToolError with `inputRequired`, or any error that says so (read structurally, as the others). */
function asksForInput(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { inputRequired?: unknown }).inputRequired === true;
}

function isRetryable(error: unknown): boolean {
  return !(typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === false);
}

/** A rate limit's Retry-After, when the error carries one. */
function retryAfter(result: AttemptResult<unknown>): number | undefined {
  if (result.status !== "error" || typeof result.error !== "object" || result.error === null) return undefined;
  const ms = (result.error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === "number" && ms >= 0 && Number.isFinite(ms) ? ms : undefined;
}
