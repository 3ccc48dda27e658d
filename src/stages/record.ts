/**
 * Record: the call's outcome becomes state. The idempotency key is completed (success)
 * or released (failure: the intent may be tried again, with the same key); a mutation
 * that took place goes into the ledger with what rollback needs; the run's chain
 * breaker, verification streak and destructive budget move.
 *
 * The chain breaker halts a run after `maxConsecutiveFailures` failed calls in a row
 * that the policy's `countsTowardChain` counts: by default every failure but those that
 * ask the caller to wait for a person (`approval_required`) and the terminal refusals.
 * Refused mutations count: an agent that insists on a frozen or forbidden action is
 * reasoning into a bad state, and is stopped.
 */
import type { Failure, Outcome } from "../failure.js";
import type { Call, Env, RunState } from "../call.js";
import { redactArgs } from "../redact.js";

export async function record(call: Call, outcome: Outcome<unknown>, env: Env, nextSeq: () => number): Promise<void> {
  const { tool, run } = call;
  if (tool.effect === "destructive") {
    run.destructivePending--;
    if (call.executed) run.destructiveDone++;
  }
  if (outcome.ok) {
    run.consecutiveFailures = 0;
    run.streak = [];
    if (tool.effect !== "read") run.unverifiedDepth = call.verified ? 0 : run.unverifiedDepth + 1;
  } else {
    countTowardChain(run, tool.name, outcome.failure);
  }

  // The outcome stands whatever the store says now: the effect has happened or not. A
  // record that cannot be written is reported; the key forwarded to the tool still
  // guards a repeat.
  // Both writes start at once (two round trips in parallel on a networked store).
  const { store } = env;
  let completing: Promise<void> | undefined;
  // A call refused because it took over a lapsed claim it could not settle keeps it: a
  // release would let the next caller run the effect a second time.
  if (call.key && !call.holdsUnsettledClaim) {
    completing = settle(
      env,
      outcome.ok
        ? store.idempotency.complete(tool.name, call.key, call.callId, { ok: true, value: outcome.value }, env.clock.now())
        : store.idempotency.release(tool.name, call.key, call.callId),
    );
  }
  // A mutation whose execution returned is in the ledger even if a later stage rejected
  // the call: its effect may have happened, and rollback must know of it.
  if (tool.effect !== "read" && call.executed && "output" in call) {
    const ledger = settle(
      env,
      store.mutations.record({
        id: call.callId,
        runId: run.runId,
        seq: nextSeq(),
        tool: tool.name,
        effect: tool.effect,
        // Stored without secrets (compensate receives them so): see redact.ts.
        args: redactArgs(call.args, tool.spec.redact),
        output: call.output ?? null,
        compensable: tool.spec.compensate !== undefined,
        ...(call.checkpoint !== undefined ? { checkpoint: call.checkpoint } : {}),
        status: "done",
        at: env.clock.now(),
      }),
    );
    await ledger;
  }
  await completing;
}

async function settle(env: Env, write: Promise<unknown>) {
  try {
    await write;
  } catch (e) {
    env.onError(e);
  }
}

/** Count a failure toward the chain breaker, halting the run at the limit. */
export function countTowardChain(run: RunState, tool: string, failure: Failure) {
  if (!run.policy.countsTowardChain(failure.kind)) return;
  run.consecutiveFailures++;
  run.streak.push({ tool, kind: failure.kind });
  if (run.consecutiveFailures >= run.policy.maxConsecutiveFailures && run.mode !== "halted") {
    run.mode = "halted";
    const last = run.streak.slice(-run.policy.maxConsecutiveFailures);
    run.reason = `the last ${last.length} calls failed (${last.map((f) => `${f.tool}: ${f.kind}`).join(", ")})`;
  }
}
