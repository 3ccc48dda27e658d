/**
 * Idempotency, with Stripe's semantics bound to the agent's intent: a write or
 * destructive call gets a key (run id + tool + the canonical arguments as the model sent
 * them, or the tool's own `idempotencyKey`), claims it in the store, and a completed key
 * replays its recorded outcome instead of executing again, for as long as the recorded
 * effect still stands (see `stillStands`: A, A replays; A, B, A runs A again). The same
 * key with other arguments is a conflict, in flight or not. A duplicate that arrives while
 * the first is in flight waits for it, in this process through a shared promise, across
 * processes through the store.
 *
 * A claim whose owner died (its lease lapsed) or gave up not knowing (unsettled) is
 * settled by the tool's `verify` probe: effect observed, the key is completed and
 * replayed; not observed, the call runs (unless the tool had reported it done: a read-back
 * may lag); no probe, the call fails as write_unverified and the claim stays for a person.
 * Never twice, never silently lost.
 */
import { canonicalJson, digest, NotJsonError } from "../canonical-json.js";
import { describeThrown, failures, staged, type Failure, type Outcome } from "../failure.js";
import { effectKey, probeEffect, toolKey } from "../probe.js";
import type { Call, Env, Final, InFlight, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";
import { Lease } from "../lease.js";
import type { ClaimRequest, ClaimResult, IdempotencyRecord } from "../store/types.js";

/**
 * The stage: nothing (execute: the call holds the key, or needs none), a failure, or the
 * final outcome of a replay. `gate` (admission's questions, `call.admitted`) is asked of
 * the store at the same time as the first claim (has the run been stopped, a freeze
 * declared?): the claim is acted on only after its answer, and a refusal wins over whatever
 * the claim said. A fresh claim is then released by the record stage; a lapsed one taken
 * over is kept, unsettled.
 */
export function idempotency(
  call: Call,
  env: Env,
  inFlight: InFlight = env.inFlight,
  gate: (() => Promise<Failure | undefined>) | undefined = call.admitted,
): Eventually<StageResult | Final> {
  return call.tool.keyed ? keyed(call, env, inFlight, gate) : undefined;
}

async function keyed(call: Call, env: Env, inFlight: InFlight, gate: (() => Promise<Failure | undefined>) | undefined): Promise<StageResult | Final> {
  const { tool } = call;
  const unkeyable = keyFor(call);
  if (unkeyable) return unkeyable;
  const key = call.key!;
  const fingerprint = call.fingerprint!;

  const local = `${tool.name}\u0000${key}`;
  const first = inFlight.get(local);
  if (first) {
    // Another intent under the same key: never the first's outcome, in flight or not.
    if (first.fingerprint !== fingerprint) return failures.idempotencyConflict(tool.name, key);
    return { outcome: replayOf(await first.outcome, call.callId) };
  }

  // Registered before the first await, so that a duplicate arriving meanwhile joins this call.
  let settle!: (o: Outcome<unknown>) => void;
  const entry = { fingerprint, outcome: new Promise<Outcome<unknown>>((resolve) => (settle = resolve)) };
  inFlight.set(local, entry);
  // Once: a call refused here settles its duplicates now, and its settlement later must not
  // remove the entry of a newer call under the same key (A refused, B in flight, A settles).
  call.settleDuplicates = (o) => {
    call.settleDuplicates = undefined;
    if (inFlight.get(local) === entry) inFlight.delete(local);
    settle(o);
  };
  const said = await claimKey(call, env, gate);
  // Duplicates waiting here get this call's end at once: a replay, or the failure stamped
  // with its stage before they copy it (admission's refusal keeps its own).
  if (said) call.settleDuplicates("outcome" in said ? said.outcome : { ok: false, failure: staged("idempotency", said), callId: call.callId });
  return said;
}

/** Derive the call's key and fingerprint (into `call`), or say why its arguments cannot be keyed. */
export function keyFor(call: Call): Failure | undefined {
  const { tool, run } = call;
  let canonical: string;
  try {
    canonical = canonicalJson(call.sent);
  } catch (e) {
    if (e instanceof NotJsonError) return failures.invalidInput(tool.name, [e.message]);
    throw e;
  }
  call.fingerprint = digest(canonical);
  try {
    call.key = tool.spec.idempotencyKey
      ? tool.spec.idempotencyKey(call.args, { runId: run.runId, tool: tool.name })
      : // Readable and unique without a second hash: the run, the tool, the arguments' digest.
        `${run.runId}:${tool.name}:${call.fingerprint}`;
  } catch (e) {
    return failures.invalidInput(tool.name, [`its idempotencyKey function failed: ${describeThrown(e)}`]);
  }
  if (typeof call.key !== "string" || call.key.length === 0 || call.key.length > 512)
    return failures.invalidInput(tool.name, ["its idempotencyKey function must return a text of 1 to 512 characters"]);
  return undefined;
}

/**
 * What the call would replay without claiming anything: the recorded outcome of its key,
 * completed with its arguments, while the effect still stands; otherwise undefined. (The
 * run asks this of a change its spent budget would refuse: a replay changes nothing.)
 */
export async function recordedReplay(call: Call, env: Env): Promise<Outcome<unknown> | undefined> {
  if (keyFor(call)) return undefined;
  const record = await env.store.idempotency.get(call.tool.name, call.key!);
  if (record?.state !== "completed" || record.fingerprint !== call.fingerprint) return undefined;
  return (await stillStands(call, env, record)) ? replayed(call, record) : undefined;
}

/** A record to take over (its effect gone, or settled by the probe), and what to do once it is ours. */
type TakeOver = { take: NonNullable<ClaimRequest["replace"]>; then: "run" | "recover"; from: IdempotencyRecord };

async function claimKey(call: Call, env: Env, gate?: () => Promise<Failure | undefined>): Promise<StageResult | Final> {
  const { tool, run } = call;
  const key = call.key!;
  const leaseMs = env.leaseMs ?? leaseFor(call);
  let replace: TakeOver | undefined;
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
      ...(replace ? { replace: replace.take } : {}),
    });
    const refused = first && gate ? await gate() : undefined;
    try {
      claim = await claiming;
    } catch (e) {
      // Not given back: the store may have applied it (a takeover of a lapsed claim, too).
      // A store must not apply a claim it reported failed (see store/postgres/store.ts statement_timeout).
      return refused ?? failures.storeUnavailable(tool.name, describeThrown(e));
    }
    if (claim.status === "claimed" || claim.status === "lease_expired") {
      call.holdsClaim = true;
      call.fence = claim.fence;
      keepClaim(call, env, leaseMs);
    }
    const stopped = call.holdsClaim && !refused && !tool.escalation ? await stoppedMeanwhile(call, env, claim) : undefined;
    if (refused || stopped) {
      // Ours to give back only if we took it fresh; a lapsed claim taken over stays held.
      if (claim.status === "lease_expired") call.holdsUnsettledClaim = true;
      return (refused ?? stopped)!;
    }
    switch (claim.status) {
      case "claimed": {
        if (!replace) return undefined;
        call.generation = replace.take.generation;
        if (replace.then === "run") return undefined;
        return recovered(call, env, replace.from);
      }
      case "conflict":
        return failures.idempotencyConflict(tool.name, key);
      case "completed": {
        if (await stillStands(call, env, claim.record)) return { outcome: replayed(call, claim.record) };
        replace = { take: { owner: claim.record.owner, generation: claim.record.generation + 1 }, then: "run", from: claim.record };
        continue;
      }
      case "unsettled": {
        const settled = await settleUnsettled(call, env, claim.record);
        if (!("take" in settled)) return settled;
        replace = settled;
        continue;
      }
      case "lease_expired":
        call.generation = claim.record.generation;
        return settleLapsed(call, env, claim.record);
      case "in_flight": {
        // Held by another process: wait for it to finish or for its lease to lapse, within
        // the run's deadline, and no longer than the run's stop or its runtime's close.
        const cancel = run.cancelSignal;
        if (cancel.aborted) return failures.stopped(cancel.reason);
        const now = env.clock.now();
        if (now >= run.deadlineAt) return failures.deadlineExceeded(run.policy.deadlineMs!);
        const wait = Math.max(1, Math.min(claim.record.leaseUntil - now, 1_000, run.deadlineAt - now));
        try {
          await untilAborted(env.store.idempotency.waitForChange(tool.name, key, wait), cancel);
        } catch (e) {
          if (cancel.aborted) return failures.stopped(cancel.reason);
          return failures.storeUnavailable(tool.name, describeThrown(e));
        }
        continue;
      }
    }
  }
}

/**
 * Whether the run was stopped between its admission and this claim (a rollback
 * elsewhere, a person's stop). Asked after the claim is written: a rollback stops the run,
 * then looks for its claims in flight, so either it sees this claim and waits for it, or
 * this read sees its stop and the call does not execute. A store that read the stop with
 * the claim, so that the same holds (see RunStop), has answered already: no round trip.
 * A store that cannot say refuses.
 */
async function stoppedMeanwhile(call: Call, env: Env, claim: ClaimResult): Promise<Failure | undefined> {
  let stop = "stop" in claim ? claim.stop : undefined;
  if (stop === undefined)
    try {
      stop = await env.store.runs.stopRequested(call.run.runId);
    } catch (e) {
      return failures.storeUnavailable(call.tool.name, describeThrown(e));
    }
  return stop ? failures.runHalted(`stopped by a person: ${stop.reason}`) : undefined;
}

/**
 * Whether a recorded effect still stands, so that a repeat may be answered from the record
 * (the world may have moved since: set_status closed, open, closed must end closed).
 * With a `verify` probe, the probe says; one that cannot tell leaves it standing (a replay
 * never runs the effect twice). Without one: under the tool's own key, for as long as the
 * record is kept (the key names one action, such as one invoice's charge); under the
 * default key, unless the run has since called the tool with other arguments (A, A
 * replays; A, B, A runs A again, so the world ends as the run last asked).
 */
async function stillStands(call: Call, env: Env, record: IdempotencyRecord): Promise<boolean> {
  const { tool, run } = call;
  if (tool.spec.verify) {
    const stored = record.outcome!;
    const answer = await probeEffect(call, env, stored.ok ? stored.value : undefined, effectKey(record.key, record.generation));
    return !("seen" in answer) || answer.seen;
  }
  if (tool.spec.idempotencyKey) return true;
  try {
    const latest = await env.store.idempotency.latestInRun(tool.name, run.runId, `${run.runId}:${tool.name}:`);
    return latest === undefined || latest === record.key;
  } catch (e) {
    env.onError(e);
    return true;
  }
}

function replayed(call: Call, record: IdempotencyRecord): Outcome<unknown> {
  const stored = record.outcome!;
  return stored.ok
    ? { ok: true, value: stored.value, callId: call.callId, replayed: true }
    : { ok: false, failure: stored.failure, callId: call.callId, replayed: true };
}

/** How long a claim may be held before another caller may take it over. */
function leaseFor(call: Call): number {
  const { tool } = call;
  const attempts = tool.retry ? tool.retry.maxAttempts : 1;
  const backoff = tool.retry ? tool.retry.maxDelayMs * (attempts - 1) : 0;
  // Execution, retries and the read-back, with room to spare for the record to be written.
  return tool.timeoutMs * (attempts + 1) + backoff + 5_000;
}

/** A lapsed claim, now ours: the probe says whether its dead owner's effect took place. */
async function settleLapsed(call: Call, env: Env, lapsed: IdempotencyRecord): Promise<StageResult | Final> {
  const { tool } = call;
  // The claim stays ours and unreleased when we cannot settle it: a release would let the
  // next caller run the effect a second time. Record marks it unsettled.
  const unsettled = (why: string): Failure => {
    call.holdsUnsettledClaim = true;
    return failures.unsettledEffect(tool.name, call.key!, why);
  };
  if (!tool.spec.verify) return unsettled("the tool has no verify probe to tell whether it did");
  const answer = await probeEffect(call, env, undefined, toolKey(call));
  if (!("seen" in answer)) return unsettled(`its verify probe could not tell (${answer.unknown})`);
  return answer.seen ? recovered(call, env, lapsed) : undefined;
}

/**
 * A claim its owner left unsettled. The probe decides: seen, it is completed and replayed;
 * not seen, the call runs, unless the tool had reported it done (the read-back may lag:
 * only a person, or a probe that sees it, settles that). Without an answer it stays.
 */
async function settleUnsettled(call: Call, env: Env, record: IdempotencyRecord): Promise<Failure | TakeOver> {
  const { tool } = call;
  const stay = (why: string): Failure => failures.unsettledEffect(tool.name, call.key!, why);
  if (!tool.spec.verify) return stay("the tool has no verify probe to tell whether it did");
  const answer = await probeEffect(call, env, undefined, effectKey(record.key, record.generation));
  if (!("seen" in answer)) return stay(`its verify probe could not tell (${answer.unknown})`);
  const take = { owner: record.owner, generation: record.generation };
  if (answer.seen) return { take, then: "recover", from: record };
  const stored = record.outcome;
  if (stored && !stored.ok && stored.returned) return stay("the tool reported it done, and its verify probe does not see it yet");
  return { take, then: "run", from: record };
}

/**
 * The effect of `from`'s owner took place (the probe saw it) but its response is lost:
 * complete the key, answer without a value; run.ts puts the effect in the ledger.
 */
async function recovered(call: Call, env: Env, from: IdempotencyRecord): Promise<Final> {
  call.lease?.stop();
  call.recovered = true;
  call.output = null;
  call.recoveredFrom = { runId: from.runId, callId: from.owner };
  try {
    await env.store.idempotency.complete(call.tool.name, call.key!, call.callId, { ok: true, value: null }, env.clock.now());
  } catch (e) {
    env.onError(e);
  }
  return { outcome: { ok: true, value: null, callId: call.callId, replayed: true, recovered: true } };
}

/** While the call holds its claim, its lease is renewed (see lease.ts). */
function keepClaim(call: Call, env: Env, leaseMs: number): void {
  call.lease = new Lease(call, env, leaseMs);
}

/** `waiting`, or a rejection as soon as `signal` aborts (the wait itself ends by its own timeout). */
function untilAborted(waiting: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => signal.addEventListener("abort", (onAbort = () => reject(signal.reason)), { once: true }));
  return Promise.race([waiting, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

function replayOf(o: Outcome<unknown>, callId: string): Outcome<unknown> {
  return { ...o, callId, replayed: true };
}
