/**
 * The call in progress, as the stages see it, and what the runtime lends them. A stage
 * reads and fills in the call; it never calls another stage (run.ts composes them).
 */
import type { Clock } from "./clock.js";
import type { Failure, Note, Outcome, ShadowDecision } from "./failure.js";
import type { HealthRegistry } from "./resilience/tool-health.js";
import type { FreezeBoard } from "./decide/freeze.js";
import type { RunState } from "./run-state.js";
import type { Store } from "./store/types.js";
import type { DecisionSink } from "./telemetry/tracing.js";
import type { Tool } from "./tool.js";

/** The run's state that stages read; its changes go through its methods (see run-state.ts). */
export type { RunState } from "./run-state.js";

export interface Call {
  readonly callId: string;
  /** The model's id for this tool call, when the adapter knows it (see CallOptions). */
  readonly toolCallId?: string;
  readonly tool: Tool;
  readonly run: RunState;
  /** The arguments; the parsed value once the input schema has passed. */
  args: unknown;
  /**
   * The arguments as the caller (the model) sent them, before any schema parsed them: the
   * idempotency key, its fingerprint and an approval bind to these, never to a parsed value
   * that may render lossily (a URL, a class instance). The copy validate-in takes, once it has.
   */
  sent: unknown;
  readonly startedAt: number;
  /** Idempotency key: the store's record of the call. */
  key?: string;
  /**
   * The key's generation (see IdempotencyRecord.generation) [0]: the tool is given the key
   * with `#n` once its recorded effect no longer stood and the call runs for the n-th time,
   * so that a system that deduplicates on the key does not answer it with the old effect.
   */
  generation?: number;
  fingerprint?: string;
  /** The tool's response, once executed. */
  output?: unknown;
  /** Attempts made by the execute stage. */
  attempts: number;
  /**
   * Whether the tool was executed (some attempt started); not when its only attempt said it
   * did not act and asks for input first (input_required: the call that brings it acts).
   */
  executed: boolean;
  /**
   * The last attempt may have taken effect and nothing settled whether it did (a timeout, a
   * cancellation, an error the tool did not declare, with no probe to ask): record keeps the
   * claim, unsettled, so that no repeat runs the effect a second time.
   */
  ambiguous?: boolean;
  /** An ambiguous attempt that the probe saw land: the call succeeded without a response. */
  recovered?: boolean;
  /** The call that made the effect a probe found, when it was another (a dead owner): its ledger entry's run and id. */
  recoveredFrom?: { runId: string; callId: string };
  /** The call holds its key's claim in the store: record settles it (and only then). */
  holdsClaim?: boolean;
  /** The claim's fence (see ClaimResult), forwarded to the tool as ctx.fencingToken. */
  fence?: number;
  /**
   * While the call holds its claim: the lease is renewed, `cancel` aborts the call's work if
   * the claim is found lost (or the run stops), `stop` ends the renewals.
   */
  lease?: ClaimLease;
  /**
   * The call took over a lapsed claim it could not settle (idempotency stage): record marks
   * it unsettled, never releases it, or the next caller would run the effect a second time.
   */
  holdsUnsettledClaim?: boolean;
  /** Hands this call's outcome to duplicates that joined it in flight (idempotency stage). */
  settleDuplicates?: (outcome: Outcome<unknown>) => void;
  /** Whether a read-back confirmed the effect (verify stage). */
  verified?: boolean;
  /** Notes for the model on a successful outcome (facts stage: a fact that was outranked). */
  notes?: Note[];
  /** Why a rule asks a person to approve this call (rules stage; the approval stage asks). */
  approvalAsked?: string;
  /** The step the run reserved for this call (its order in the run, across processes). */
  step?: number;
  /**
   * The answer to admission's questions sent beside the claim (a keyed change that asks no
   * person: the reservation and the freezes read again), awaited before the claim is acted
   * on; a refusal there wins over any later stage's (see admit.ts `gate`).
   */
  admitted?: () => Promise<Failure | undefined>;
  /** Refused at admission (by the run's limits, or by what the store said beside the claim): already counted. */
  admissionRefused?: Failure;
  /** What the tool's checkpoint hook returned before the action (checkpoint stage). */
  checkpoint?: unknown;
  /** Where a stage tells what it decided, as it decides (span events); absent when nothing listens. */
  readonly decisions?: DecisionSink | undefined;
  /** Shadow mode: the refusals the stages would have made, in stage order (see shadow.ts). */
  shadow?: ShadowDecision[];
}

export interface Env {
  readonly clock: Clock;
  readonly store: Store;
  readonly health: HealthRegistry;
  readonly random: () => number;
  /** Idempotency records are kept this long after completion. */
  readonly retentionMs: number;
  /** A claim's lease, renewed while its call lives [worked out per tool: see the idempotency stage]. */
  readonly leaseMs?: number;
  /** Report an error that has no caller to go to (a background write that failed). */
  readonly onError: (error: unknown) => void;
  /** A new id (time-ordered: calls, approval requests, handoffs). */
  readonly newId: () => string;
  /** Keyed calls in flight in this process (the idempotency stage: a duplicate joins the first). */
  readonly inFlight: InFlight;
  /** The runtime's tools by name (the verification gate's message names the reads that pass it). */
  readonly tools?: ReadonlyMap<string, Tool>;
  /** Freezes declared at run time through the runtime (admission refuses mutations while one holds). */
  readonly freezes?: FreezeBoard;
}

/**
 * Calls in flight in this process, by scope and key: duplicates (same fingerprint) join the
 * first (the idempotency stage). Here, with the Env that holds it, below the stages.
 */
export type InFlight = Map<string, { fingerprint: string; outcome: Promise<Outcome<unknown>> }>;

/** A call's lease on its claim, as the stages see it (made in lease.ts). */
export interface ClaimLease {
  /** The claim was found taken over: the call reports no success (record). */
  readonly lost: boolean;
  /** Whether the call's work is to stop: the claim lost, or the run stopped. */
  readonly aborted: boolean;
  readonly reason: unknown;
  /** The signal that aborts when the work is to stop; made on first use. */
  signal(): AbortSignal;
  /** End the renewals (record). */
  stop(): void;
}

/** What a stage says: go on (undefined) or a failure. */
export type StageResult = Failure | undefined;

/** A stage's final word: the call ends with this outcome (a replay), not with a failure. */
export interface Final {
  outcome: Outcome<unknown>;
}

/** What the caller knows about a call beyond its arguments. */
export interface CallOptions {
  /**
   * The model's id for this tool call (e.g. the AI SDK's `toolCallId`), recorded as the
   * span's `gen_ai.tool.call.id` so that Bulwark's span joins the model's tool call.
   */
  toolCallId?: string;
}
