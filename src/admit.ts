/**
 * The admission stage: may this call start at all, on the run as the store has it?
 * Admission's checks (stages/admission.ts) are asked on the freshest record of the run in
 * the store, and a step (and a destructive slot) is reserved there only if they pass.
 * Before a change, the freezes declared elsewhere are read again. A keyed change that asks
 * no person sends its claim beside those questions (on a networked store, in the same
 * round trip): the claim is acted on only once both answers are in, and undone if they
 * refuse (`gate`). Others wait for the answers first.
 */
import type { Call, Env, StageResult } from "./call.js";
import { describeThrown, failures, staged, type Failure, type Outcome } from "./failure.js";
import { judged } from "./shadow.js";
import type { Policy } from "./policy.js";
import type { RunState } from "./run-state.js";
import type { Reservation } from "./run-record.js";
import { isPromise, type Eventually } from "./eventually.js";
import { admission } from "./stages/admission.js";
import { recordedReplay } from "./stages/idempotency.js";
import { validateInput } from "./stages/validate-input.js";
import { StoreUnavailableError, type RunRecord } from "./store/types.js";
import type { Tool } from "./tool.js";

/** The admission stage: a refusal (counted), a replay (a change repeated after the budget is spent), or go on. */
export function admit(call: Call, env: Env): Eventually<StageResult | { outcome: Outcome<unknown> }> {
  if (call.tool.effect !== "read") return admitChange(call, env);
  // A read: its step reserved on the record seen lately (see RunState.reserve), without a wait.
  const refused = reserve(call, env, call.run, true);
  return isPromise(refused) ? refused.then((f) => counted(call, f)) : counted(call, refused);
}

/** A refusal of the run's limits, already counted by the reservation. */
function counted(call: Call, refused: Failure | undefined): StageResult {
  if (refused) call.admissionRefused ??= staged("admission", refused);
  return refused;
}

async function admitChange(call: Call, env: Env): Promise<StageResult | { outcome: Outcome<unknown> }> {
  const { tool, run } = call;
  const replay = await replayAfterBudget(call, env, run);
  if (replay) return { outcome: replay };
  const early = run.enforce && tool.keyed && !tool.escalation && (tool.spec.approval === undefined || tool.spec.approval === "never");
  // The way to a person is not closed by a freeze, nor by a store that cannot say.
  const refreshing = !tool.escalation ? refreshFreezes(tool, env) : undefined;
  if (refreshing && !early) {
    const unseen = staged("admission", await refreshing);
    if (unseen) {
      await run.refuse(tool.name, unseen).catch(env.onError);
      return (call.admissionRefused = unseen);
    }
  }
  const reserving = reserve(call, env, run, !early);
  if (!early) return counted(call, await reserving);
  call.admitted = gate(call, env, run, Promise.resolve(reserving), refreshing!);
  return undefined;
}

/** How long a destructive slot is held for a call before it counts as used (its process died). */
function slotLease(tool: Tool, policy: Policy): number {
  const attempts = tool.retry ? tool.retry.maxAttempts : 1;
  return tool.timeoutMs * (attempts + 1) + (tool.retry ? tool.retry.maxDelayMs * attempts : 0) + policy.approvalWaitMs + 60_000;
}

/**
 * Reserve the call's step; a refusal comes back already counted (chain breaker, budget).
 * `declaredFreezes`: whether admission looks at the declared freezes now (not when the gate
 * will, once they are read again). When the store cannot be written, a change fails closed
 * and a read is admitted on what this process last saw of the run (its step uncounted).
 */
function reserve(call: Call, env: Env, state: RunState, declaredFreezes: boolean): Eventually<Failure | undefined> {
  const { tool } = call;
  // Shadow mode: admission's refusal is written down and the step reserved all the same.
  let shadowed: Failure | undefined;
  let r: Eventually<Reservation>;
  try {
    r = state.reserve(call.callId, tool, slotLease(tool, state.policy), (rec: RunRecord, readsHere?: number) =>
      state.enforce ? admission(call, env, rec, declaredFreezes, readsHere) : ((shadowed = admission(call, env, rec, declaredFreezes, readsHere)), undefined),
    );
  } catch (e) {
    return unreserved(call, env, e);
  }
  return isPromise(r) ? r.then((res) => reserved(call, res, shadowed), (e) => unreserved(call, env, e)) : reserved(call, r, shadowed);
}

function reserved(call: Call, r: Reservation, shadowed: Failure | undefined): Failure | undefined {
  if ("refused" in r) return (call.admissionRefused = staged("admission", r.refused));
  call.step = r.step;
  judged(call, staged("admission", shadowed));
  return undefined;
}

/** The reservation failed: a change fails closed, a read is admitted on what this process last saw of the run. */
function unreserved(call: Call, env: Env, e: unknown): Failure | undefined {
  const { tool } = call;
  if (tool.effect === "read" || tool.escalation) {
    env.onError(e);
    return admission(call, env);
  }
  // A bug in a policy hook is not the store's fault: say which it was.
  if (!(e instanceof StoreUnavailableError)) return failures.toolError(tool.name, `internal error: ${describeThrown(e)}`, 0, false);
  return failures.storeUnavailable(tool.name, describeThrown(e));
}

/** The declared freezes, read again before a change; a store that cannot say refuses it. */
async function refreshFreezes(tool: Tool, env: Env): Promise<Failure | undefined> {
  try {
    await env.freezes?.refresh();
    return undefined;
  } catch (e) {
    return failures.storeUnavailable(tool.name, describeThrown(e));
  }
}

/**
 * What the store said before a change whose claim went out beside the questions: the
 * reservation refused (a stop, a limit reached in another process), a freeze declared
 * elsewhere, or a store that could not say. A refusal here is a refusal at admission: a
 * reservation made is given back; the record stage releases a claim this call took fresh,
 * and keeps a lapsed one it took over (a release would let the next caller run that
 * effect again unverified).
 */
function gate(call: Call, env: Env, state: RunState, reserving: Promise<Failure | undefined>, refreshing: Promise<Failure | undefined>): () => Promise<Failure | undefined> {
  let answer: Promise<Failure | undefined> | undefined;
  return () =>
    (answer ??= (async () => {
      const [refused, unseen] = await Promise.all([reserving, refreshing]);
      if (refused) return refused;
      const declared = env.freezes?.at(env.clock.now());
      const failure = staged("admission", unseen ?? (declared ? failures.frozen(call.tool.name, declared.until, declared.reason) : undefined));
      if (failure) {
        call.admissionRefused = failure;
        await state.release(call.callId, call.tool.effect === "destructive").catch(env.onError);
        await state.refuse(call.tool.name, failure).catch(env.onError);
      }
      return failure;
    })());
}

/**
 * A change repeated after the run's destructive budget is spent (so that admission would
 * refuse it) that is a replay, the same key already done, replays: it changes nothing.
 * Asked only in that state; the call's arguments are left as they came.
 */
async function replayAfterBudget(call: Call, env: Env, state: RunState): Promise<Outcome<unknown> | undefined> {
  const { tool } = call;
  const r = state.record;
  const spent = (r.mode === "read_only" && r.narrowedBy === "budget") || (tool.effect === "destructive" && r.destructive.used + r.destructive.inFlight.length >= state.policy.destructive.maxPerRun);
  if (!spent || !tool.keyed || r.mode === "halted" || r.mode === "handed_off") return undefined;
  const args = call.args;
  try {
    if (await validateInput(call)) return undefined;
    return await recordedReplay(call, env);
  } catch {
    return undefined; // admission answers instead
  } finally {
    call.args = args;
    delete call.key;
    delete call.fingerprint;
  }
}
