/**
 * Record: the call's outcome becomes durable. The idempotency claim is settled as what
 * happened (see `settleClaim`): released only when nothing ran; a mutation that took
 * place goes into the ledger with what rollback needs. (The run's own state, its chain
 * breaker, verification streak and budget, is settled by the run: run-state.ts.)
 */
import { failures, type Outcome } from "../failure.js";
import type { Call, Env } from "../call.js";
import type { Eventually } from "../eventually.js";
import { redactArgs } from "../redact.js";

export function record(call: Call, outcome: Outcome<unknown>, env: Env, nextSeq: () => number): Eventually<Outcome<unknown>> {
  // Both writes start at once (two round trips in parallel on a networked store). A record
  // that cannot be written is reported; the key forwarded to the tool still guards a repeat.
  const settling = call.key && call.holdsClaim ? settleClaim(call, outcome, env) : undefined;
  // A mutation whose execution returned is in the ledger even if a later stage rejected
  // the call: its effect may have happened, and rollback must know of it.
  const mutation = call.tool.effect !== "read" && call.executed && "output" in call;
  // Nothing to write (a read): answered at once.
  if (!settling && !mutation) return held(call, outcome, true);
  return written(call, outcome, env, settling, mutation ? nextSeq() : undefined);
}

async function written(call: Call, outcome: Outcome<unknown>, env: Env, settling: Promise<unknown> | undefined, seq: number | undefined): Promise<Outcome<unknown>> {
  if (seq !== undefined) await recordMutation(call, env, seq);
  let kept: unknown = true;
  try {
    kept = await settling;
  } catch (e) {
    env.onError(e);
  }
  return held(call, outcome, kept);
}

/**
 * An owner that lost its claim while it ran (paused past its lease; another took the key
 * over) is never told it succeeded: the other may have run the effect too.
 */
function held(call: Call, outcome: Outcome<unknown>, kept: unknown): Outcome<unknown> {
  call.lease?.stop();
  if (outcome.ok && (kept === false || call.lease?.lost)) return { ok: false, failure: failures.claimLost(call.tool.name, call.key!), callId: call.callId };
  return outcome;
}

export async function recordMutation(call: Call, env: Env, seq: number): Promise<void> {
  const { tool, run } = call;
  const { mutations } = env.store;
  const from = call.recoveredFrom;
  try {
    if (from && (await mutations.list(from.runId)).some((m) => m.id === from.callId)) return;
    await mutations.record({
      id: from?.callId ?? call.callId,
      runId: from?.runId ?? run.runId,
      seq,
      tool: tool.name,
      effect: tool.effect as "write" | "destructive",
      // Stored without secrets (compensate receives them so): see redact.ts.
      args: redactArgs(call.args, tool.spec.redact),
      output: call.output ?? null,
      compensable: tool.spec.compensate !== undefined,
      ...(call.checkpoint !== undefined ? { checkpoint: call.checkpoint } : {}),
      status: "done",
      at: env.clock.now(),
    });
  } catch (e) {
    env.onError(e);
  }
}

/**
 * Settle the call's claim as what happened. Released (the intent may be tried again) only
 * when the tool did not run, or said it failed (a ToolError). Once it has run, the claim
 * stays: completed with the outcome when the tool returned and a later check refused it
 * (the effect took place); unsettled, for a probe or a person, when the effect is unknown
 * (an attempt that may have landed, a read-back that disagrees with the tool, a lapsed
 * claim taken over and not settled). A release there would let a repeat run it again.
 */
function settleClaim(call: Call, outcome: Outcome<unknown>, env: Env): Promise<unknown> {
  const { idempotency } = env.store;
  const { tool, callId } = call;
  const key = call.key!;
  const now = env.clock.now();
  if (outcome.ok) return idempotency.complete(tool.name, key, callId, { ok: true, value: outcome.value }, now);
  const { failure } = outcome;
  if (call.holdsUnsettledClaim || call.ambiguous) return idempotency.complete(tool.name, key, callId, { ok: false, failure }, now, "unsettled");
  if (!call.executed || !("output" in call)) return idempotency.release(tool.name, key, callId);
  if (failure.kind === "write_unverified") return idempotency.complete(tool.name, key, callId, { ok: false, failure, returned: true }, now, "unsettled");
  return idempotency.complete(tool.name, key, callId, { ok: false, failure }, now);
}

