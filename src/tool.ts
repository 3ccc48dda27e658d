/**
 * defineTool and the tool types. A tool is a function with a declared effect; the options
 * say how Bulwark guards it. `defineTool` checks the spec once and resolves the defaults
 * so that nothing on the call path has to.
 */
import type { ToolContext } from "./attempt.js";
import type { Effect } from "./effect.js";
import type { Fact } from "./decide/ledger.js";
import type { StandardSchemaV1 } from "./standard-schema.js";
import { badDuration } from "./option-checks.js";
import type { RuleContext, ToolRule } from "./decide/rules.js";

// What a tool's function gets is defined beside the attempt that makes it (attempt.ts, a
// leaf); what a tool does to the world, in effect.ts; what a tool's facts hook returns, with
// the facts ledger. They sit below the rules that a tool carries, whose context names them.
export type { ToolContext, Effect, Fact };

/** What the facts hook is told about the response it reads. */
export interface FactsContext {
  callId: string;
  /** The response's place in the run's sequence of reports, from 1. */
  sequence: number;
  /** The runtime's clock, epoch ms. */
  now: number;
}

export interface RetryOptions {
  /** Attempts in all, the first included [3]. */
  maxAttempts: number;
  /** Backoff before the first retry, doubling after [100]. */
  baseDelayMs: number;
  /** Cap on any one backoff [5_000]. */
  maxDelayMs: number;
}

export interface BreakerOptions {
  /** How many of the latest attempts the failure rate is taken over [20]. */
  windowSize: number;
  /** Open at or above this share of failures in the window [0.5]. */
  failureRate: number;
  /** No verdict before this many attempts are in the window [5]. */
  minCalls: number;
  /** How long the breaker stays open before one probe is let through [30_000]. */
  halfOpenAfterMs: number;
}

export interface KeyContext {
  runId: string;
  tool: string;
}

// Callbacks are written as methods: their parameters are then checked bivariantly, so a
// Tool<{ id: string }, never> (a tool that only throws) is still a Tool.
export interface ToolSpec<I, O> {
  name: string;
  description?: string;
  effect: Effect;
  execute(args: I, ctx: ToolContext): Promise<O> | O;
  /** Standard Schema (zod, valibot, arktype…) for the arguments. */
  input?: StandardSchemaV1<unknown, I>;
  /** Standard Schema for the response: a malformed response dies at the boundary. */
  output?: StandardSchemaV1<unknown, O>;
  timeoutMs?: number;
  retry?: Partial<RetryOptions> | false;
  breaker?: Partial<BreakerOptions> | false;
  /** Bulkhead: at most this many calls of this tool at once in this process [unbounded]. */
  concurrency?: number;
  /**
   * Calling it again with the same arguments and `ctx.idempotencyKey` has no further
   * effect: the operation is idempotent, or the system it writes to deduplicates on the
   * key (as Stripe does). Only then is a write or destructive call retried after an attempt
   * that may have landed (a timeout, an error that is not a ToolError) without its
   * `verify` probe first saying that the attempt did not land [false].
   */
  idempotent?: boolean;
  /** A key for the intent of the call; global within the store, scoped by tool name. */
  idempotencyKey?(args: I, ctx: KeyContext): string;
  /** Semantic check of a valid response: a reason to reject it, or nothing. */
  check?(output: O, args: I): string | undefined;
  /** Read-your-writes: read the state back; true when it matches the intent, else false or why not. */
  verify?(args: I, output: O, ctx: ToolContext): Promise<boolean | string> | boolean | string;
  /** The facts this response asserts; `ctx.sequence` orders the run's reports (a source's later report supersedes its earlier one). */
  facts?(output: O, args: I, ctx: FactsContext): Fact[];
  /** Undo the call's effect, for rollback. */
  compensate?(args: I, output: O, ctx: ToolContext): Promise<void> | void;
  /** Runs before a destructive action (take a backup…); what it returns is recorded. */
  checkpoint?(args: I, ctx: ToolContext): Promise<unknown> | unknown;
  /**
   * Policy rules, checked before the call runs (after the input schema): each returns
   * nothing, a reason to refuse (`policy_violation`), or `{ approval: reason }`. See
   * decide/rules.ts.
   */
  rules?: ToolRule<I>[];
  /**
   * On a read tool: the writes it reads back, by tool name, or a predicate of this call's
   * arguments and a write. Called after such writes, it passes the verification gate for
   * them (see `maxUnverifiedDepth`), and the gate's message names it.
   */
  verifies?: readonly string[] | ((args: I, write: { tool: string; args: unknown }) => boolean);
  /**
   * The way to a person (e.g. transfer to a human agent): allowed in every mode, halted
   * and handed off included, and past every limit; calling it hands the run off, with its
   * arguments as the reason.
   */
  escalation?: boolean;
  /** Whether a person must approve the call first. A predicate must say true or false: anything else asks. */
  approval?: "always" | "never" | ((args: I, ctx: RuleContext) => boolean | Promise<boolean>);
  /**
   * What of the arguments may be stored and shown (ledger, approvals, handoffs, the
   * dashboard): return a copy with your secrets masked. The default redaction (secret
   * names, credential-shaped text; see redact.ts) runs on what it returns.
   */
  redact?(args: I): unknown;
}

/** A tool with its spec checked and its defaults resolved. */
export interface Tool<I = any, O = any> {
  readonly name: string;
  readonly effect: Effect;
  readonly spec: ToolSpec<I, O>;
  readonly timeoutMs: number;
  readonly retry: RetryOptions | false;
  readonly breaker: BreakerOptions | false;
  /** Whether calls carry an idempotency key (write and destructive tools, or an explicit key). */
  readonly keyed: boolean;
  /** The way to a person (`escalation: true`). */
  readonly escalation: boolean;
}

export const toolDefaults = {
  timeoutMs: 10_000,
  retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 5_000 } satisfies RetryOptions,
  breaker: { windowSize: 20, failureRate: 0.5, minCalls: 5, halfOpenAfterMs: 30_000 } satisfies BreakerOptions,
};

const EFFECTS: readonly Effect[] = ["read", "write", "destructive"];

export function defineTool<I = any, O = any>(spec: ToolSpec<I, O>): Tool<I, O> {
  const where = `defineTool(${typeof spec?.name === "string" ? JSON.stringify(spec.name) : "?"})`;
  const bad = (what: string): never => {
    throw new TypeError(`${where}: ${what}`);
  };
  if (!spec || typeof spec !== "object") bad("expects a tool spec object");
  if (typeof spec.name !== "string" || !/^[A-Za-z0-9_.:-]{1,128}$/.test(spec.name))
    bad("name must be 1 to 128 letters, digits, or _ . : -");
  if (!EFFECTS.includes(spec.effect)) bad(`effect must be one of ${EFFECTS.join(", ")}, not ${JSON.stringify(spec.effect)}`);
  if (typeof spec.execute !== "function") bad("execute must be a function");
  for (const schema of ["input", "output"] as const) {
    const s = spec[schema];
    if (s !== undefined && typeof (s as StandardSchemaV1)?.["~standard"]?.validate !== "function")
      bad(`${schema} must be a Standard Schema (zod, valibot, arktype…)`);
  }
  for (const fn of ["idempotencyKey", "check", "verify", "facts", "compensate", "checkpoint", "redact"] as const) {
    if (spec[fn] !== undefined && typeof spec[fn] !== "function") bad(`${fn} must be a function`);
  }
  if (spec.idempotent !== undefined && typeof spec.idempotent !== "boolean") bad(`idempotent must be true or false, not ${JSON.stringify(spec.idempotent)}`);
  const timeoutMs = spec.timeoutMs ?? toolDefaults.timeoutMs;
  const check = (name: string, why: string | undefined) => why && bad(`${name} ${why}`);
  check("timeoutMs", badDuration(timeoutMs, { timer: true }));
  if (spec.concurrency !== undefined && !(Number.isInteger(spec.concurrency) && spec.concurrency >= 1))
    bad(`concurrency must be a whole number of at least 1, not ${spec.concurrency}`);
  if (spec.rules !== undefined) {
    if (!Array.isArray(spec.rules)) bad("rules must be a list of functions (args, ctx) => reason | undefined");
    spec.rules.forEach((r, i) => {
      if (typeof r !== "function" && !(typeof r?.rule === "function" && typeof r.name === "string" && r.name !== ""))
        bad(`rules[${i}] must be a function (args, ctx) => reason | undefined, or { name, rule }`);
    });
  }
  if (spec.verifies !== undefined) {
    if (spec.effect !== "read") bad("verifies is for read tools: a read that reads writes back");
    if (typeof spec.verifies !== "function" && !(Array.isArray(spec.verifies) && spec.verifies.every((n) => typeof n === "string")))
      bad("verifies must be a list of the names of the tools whose writes it reads back, or a function (args, write) => boolean");
  }
  if (spec.escalation !== undefined && typeof spec.escalation !== "boolean") bad(`escalation must be true or false, not ${JSON.stringify(spec.escalation)}`);
  const approval = spec.approval;
  if (approval !== undefined && approval !== "always" && approval !== "never" && typeof approval !== "function")
    bad(`approval must be "always", "never" or a function of the arguments`);

  let retry: RetryOptions | false = false;
  if (spec.retry !== false) {
    retry = { ...toolDefaults.retry, ...spec.retry };
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) bad(`retry.maxAttempts must be a whole number of at least 1, not ${retry.maxAttempts}`);
    check("retry.baseDelayMs", badDuration(retry.baseDelayMs, { zero: true, timer: true }));
    check("retry.maxDelayMs", badDuration(retry.maxDelayMs, { zero: true, timer: true }));
    if (!(retry.maxDelayMs >= retry.baseDelayMs)) bad(`retry.maxDelayMs (${retry.maxDelayMs}) must be at least retry.baseDelayMs (${retry.baseDelayMs})`);
  }
  let breaker: BreakerOptions | false = false;
  if (spec.breaker !== false) {
    breaker = { ...toolDefaults.breaker, ...spec.breaker };
    if (!Number.isInteger(breaker.windowSize) || breaker.windowSize < 1) bad(`breaker.windowSize must be a whole number of at least 1, not ${breaker.windowSize}`);
    if (!(breaker.failureRate > 0 && breaker.failureRate <= 1)) bad(`breaker.failureRate must be above 0 and at most 1, not ${breaker.failureRate}`);
    if (!Number.isInteger(breaker.minCalls) || breaker.minCalls < 1 || breaker.minCalls > breaker.windowSize)
      bad(`breaker.minCalls must be a whole number from 1 to windowSize (${breaker.windowSize}), not ${breaker.minCalls}`);
    check("breaker.halfOpenAfterMs", badDuration(breaker.halfOpenAfterMs, { zero: true }));
  }
  return {
    name: spec.name,
    effect: spec.effect,
    spec,
    timeoutMs,
    retry,
    breaker,
    keyed: spec.effect !== "read" || spec.idempotencyKey !== undefined,
    escalation: spec.escalation === true,
  };
}
