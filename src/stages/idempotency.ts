/**
 * Idempotency, with Stripe's semantics bound to the agent's intent: a write or
 * destructive call gets a key (run id + tool + canonical arguments, or the tool's own
 * `idempotencyKey`), claims it in the store, and a completed key replays its recorded
 * outcome instead of executing again. The same key with other arguments is a conflict.
 * A duplicate that arrives while the first is in flight waits for it, in this process
 * through a shared promise, across processes through the store.
 *
 * A claim whose owner died (its lease lapsed) is settled by the tool's `verify` probe:
 * effect observed, the key is completed and replayed; not observed, the call runs; no
 * probe, the call fails as write_unverified for a person to settle. Never twice, never
 * silently lost.
 */
import { attempt, AttemptContext } from "../attempt.js";
import { canonicalJson, digest, NotJsonError } from "../canonical-json.js";
import { describeThrown, failures, type Failure, type Outcome } from "../failure.js";
import type { Call, Env } from "../call.js";

export type KeyVerdict =
  /** Execute: the call holds the key (or needs none). */
  | { go: true }
  /** Do not execute: here is the outcome (a replay, or a failure to claim). */
  | { outcome: Outcome<unknown> };

/** Calls in flight in this process, by scope and key: duplicates join the first. */
export type InFlight = Map<string, Promise<Outcome<unknown>>>;

/**
 * `gate`, when given, is a question asked of the store at the same time as the first claim
 * (has the run been stopped, a freeze declared?): the claim is acted on only after its
 * answer, and a refusal wins over whatever the claim said. A fresh claim is then released
 * by the record stage; a lapsed one taken over is kept, unsettled.
 */
export async function idempotency(call: Call, env: Env, inFlight: InFlight, gate?: () => Promise<Failure | undefined>): Promise<KeyVerdict> {
  const { tool, run } = call;
  if (!tool.keyed) return { go: true };
  const fail = (failure: Failure): KeyVerdict => ({ outcome: { ok: false, failure, callId: call.callId } });

  let canonical: string;
  try {
    canonical = canonicalJson(call.args);
  } catch (e) {
    if (e instanceof NotJsonError) return fail(failures.invalidInput(tool.name, [e.message]));
    throw e;
  }
  call.fingerprint = digest(canonical);
  try {
    call.key = tool.spec.idempotencyKey
      ? tool.spec.idempotencyKey(call.args, { runId: run.runId, tool: tool.name })
      : // Readable and unique without a second hash: the run, the tool, the arguments' digest.
        `${run.runId}:${tool.name}:${call.fingerprint}`;
  } catch (e) {
    return fail(failures.invalidInput(tool.name, [`its idempotencyKey function failed: ${describeThrown(e)}`]));
  }
  if (typeof call.key !== "string" || call.key.length === 0 || call.key.length > 512)
    return fail(failures.invalidInput(tool.name, ["its idempotencyKey function must return a text of 1 to 512 characters"]));

  const local = `${tool.name}\u0000${call.key}`;
  const first = inFlight.get(local);
  if (first) return { outcome: replayOf(await first, call.callId) };

  // Registered before the first await, so that a duplicate arriving meanwhile joins this call.
  let settle!: (o: Outcome<unknown>) => void;
  inFlight.set(local, new Promise((resolve) => (settle = resolve)));
  call.settleDuplicates = (o) => {
    inFlight.delete(local);
    settle(o);
  };
  const verdict = await claimKey(call, env, gate);
  if ("outcome" in verdict) call.settleDuplicates(verdict.outcome);
  return verdict;
}

async function claimKey(call: Call, env: Env, gate?: () => Promise<Failure | undefined>): Promise<KeyVerdict> {
  const { tool, run } = call;
  const key = call.key!;
  const fail = (failure: Failure): KeyVerdict => ({ outcome: { ok: false, failure, callId: call.callId } });
  const leaseMs = leaseFor(call);
  for (let first = true; ; first = false) {
    let claim;
    const claiming = env.store.idempotency.claim({
      scope: tool.name,
      key,
      fingerprint: call.fingerprint!,
      owner: call.callId,
      runId: run.runId,
      now: env.clock.now(),
      leaseMs,
      retentionMs: env.retentionMs,
    });
    const refused = first && gate ? await gate() : undefined;
    try {
      claim = await claiming;
    } catch (e) {
      return fail(refused ?? failures.storeUnavailable(tool.name, describeThrown(e)));
    }
    if (refused) {
      // Ours to give back only if we took it fresh; a lapsed claim taken over stays held.
      if (claim.status === "lease_expired") call.holdsUnsettledClaim = true;
      return fail(refused);
    }
    switch (claim.status) {
      case "claimed":
        return { go: true };
      case "conflict":
        return fail(failures.idempotencyConflict(tool.name, key));
      case "completed": {
        const stored = claim.record.outcome!;
        return {
          outcome: stored.ok
            ? { ok: true, value: stored.value, callId: call.callId, replayed: true }
            : { ok: false, failure: stored.failure, callId: call.callId, replayed: true },
        };
      }
      case "lease_expired":
        return settleLapsed(call, env);
      case "in_flight": {
        // Held by another process: wait for it to finish or for its lease to lapse.
        if (run.stopSignal.aborted) return fail(failures.stopped(run.stopSignal.reason));
        const wait = Math.max(1, Math.min(claim.record.leaseUntil - env.clock.now(), 1_000));
        try {
          await env.store.idempotency.waitForChange(tool.name, key, wait);
        } catch (e) {
          return fail(failures.storeUnavailable(tool.name, describeThrown(e)));
        }
        continue;
      }
    }
  }
}

/** How long a claim may be held before another caller may take it over. */
function leaseFor(call: Call): number {
  const { tool } = call;
  const attempts = tool.retry ? tool.retry.maxAttempts : 1;
  const backoff = tool.retry ? tool.retry.maxDelayMs * (attempts - 1) : 0;
  // Execution, retries and the read-back, with room to spare for the record to be written.
  return tool.timeoutMs * (attempts + 1) + backoff + 5_000;
}

async function settleLapsed(call: Call, env: Env): Promise<KeyVerdict> {
  const { tool, run } = call;
  const key = call.key!;
  const fail = (why: string): KeyVerdict => {
    call.holdsUnsettledClaim = true;
    return { outcome: { ok: false, failure: failures.unsettledEffect(tool.name, key, why), callId: call.callId } };
  };
  // The claim stays ours and unreleased when we cannot settle it: a release would let the
  // next caller run the effect a second time.
  if (!tool.spec.verify) return fail("the tool has no verify probe to tell whether it did");
  const ctx = new AttemptContext(run.runId, call.callId, 0, key);
  const probe = await attempt((c) => tool.spec.verify!(call.args, undefined, c), ctx, tool.timeoutMs, env.clock, run.stopSignal);
  if (probe.status !== "ok") return fail(`its verify probe could not tell (${probe.status === "error" ? describeThrown(probe.error) : probe.status})`);
  if (probe.value !== true) return { go: true };
  const outcome = { ok: true as const, value: null };
  try {
    await env.store.idempotency.complete(tool.name, key, call.callId, outcome, env.clock.now());
  } catch (e) {
    env.onError(e);
  }
  return { outcome: { ok: true, value: null, callId: call.callId, replayed: true, recovered: true } as Outcome<unknown> };
}

function replayOf(o: Outcome<unknown>, callId: string): Outcome<unknown> {
  return { ...o, callId, replayed: true };
}
