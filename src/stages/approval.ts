/**
 * Approval: a person decides before the tool runs. A call whose tool says it needs
 * approval (`approval: "always"`, or a predicate that says true), or that a rule asked a
 * person about (with its reason), leaves a durable request in the store and fails as
 * `approval_required`, or waits up to the policy's `approvalWaitMs` for the decision. The
 * same call repeated finds its request: approved, it goes on (once: the idempotency stage
 * replays later repeats); denied, it fails as `approval_denied`, now and every time after.
 *
 * It runs after validate-in because the request records the parsed arguments that will
 * run, after rules (a forbidden call is not put to a person), and before idempotency so
 * that no key is claimed for a call that may never run. An approval is also a
 * verification gate: it resets the run's unverified depth. Tools that may ask for approval
 * skip admission's depth check and get it here, once it is known whether a person will
 * look at this call.
 *
 * A predicate gets the arguments and the rules' context, and is awaited under the rules'
 * time limit. Only `false` lets the call through without a person: anything else (a
 * truthy value, a throw, a timeout) asks for approval. It fails closed.
 */
import { canonicalJson, digest, NotJsonError } from "../canonical-json.js";
import { gateAtApproval, gateReaders } from "../decide/gate.js";
import { judge, ruleContext } from "../decide/judge.js";
import { describeThrown, failures, type Failure } from "../failure.js";
import type { Call, Env, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";
import type { ApprovalRecord } from "../store/types.js";
import { redactArgs } from "../redact.js";

/** How often a waiting call looks for the decision in the store. */
const APPROVAL_POLL_MS = 250;

export function approval(call: Call, env: Env): Eventually<StageResult> {
  const rule = call.tool.spec.approval;
  // Nobody to ask (the common case): answered at once.
  if ((rule === undefined || rule === "never") && call.approvalAsked === undefined) return unasked(call, env);
  return asked(call, env);
}

/** No one is asked: admission left the gate to this stage (see gateAtApproval), so it holds. */
function unasked(call: Call, env: Env): StageResult {
  const { tool, run } = call;
  if (tool.effect !== "read" && gateAtApproval(tool, run.policy.rules) && run.unverifiedDepth >= run.policy.maxUnverifiedDepth)
    return failures.verificationRequired(tool.name, run.unverifiedDepth, gateReaders(run.record, env.tools?.values()));
  return undefined;
}

async function asked(call: Call, env: Env): Promise<StageResult> {
  const { tool, run } = call;
  const needed = await asks(call, env);
  if (!needed) return unasked(call, env);
  // Shadow mode asks no one: the call runs at once, and no request is left in the queue
  // (nor waited on) for a call that has already been made.
  if (!run.enforce) return failures.approvalRequired(tool.name, "(none: shadow mode)", call.approvalAsked);

  let request: ApprovalRecord | Failure;
  try {
    request = await requestFor(call, env);
    if ("kind" in request) return request;
    const waitUntil = Math.min(env.clock.now() + run.policy.approvalWaitMs, run.deadlineAt);
    while (request.status === "pending") {
      const left = waitUntil - env.clock.now();
      if (left <= 0) return failures.approvalRequired(tool.name, request.id, request.why);
      try {
        await env.clock.sleep(Math.min(left, APPROVAL_POLL_MS), run.cancelSignal);
      } catch (reason) {
        return failures.stopped(reason);
      }
      request = (await env.store.approvals.get(request.id)) ?? request;
    }
  } catch (e) {
    return failures.storeUnavailable(tool.name, describeThrown(e));
  }

  call.decisions?.decision("approval_decided", { "bulwark.approval.id": request.id, "bulwark.approval.status": request.status, ...(request.by ? { "bulwark.approval.by": request.by } : {}) });
  if (request.status === "denied") return failures.approvalDenied(tool.name, request.by, request.reason);
  // A person looked at this change: the gate is passed, once per request.
  run.approvalsUsed ??= new Set();
  if (!run.approvalsUsed.has(request.id)) {
    run.approvalsUsed.add(request.id);
    try {
      await run.passGate(`approved by ${request.by ?? "a person"}`);
    } catch (e) {
      return failures.storeUnavailable(tool.name, describeThrown(e));
    }
  }
  return undefined;
}

/** A person's answer given outside Bulwark's own approval queue (a chat UI, an SDK's interruption). */
export interface ApprovalDecision {
  approved: boolean;
  by: string;
  reason?: string;
}

/**
 * The stage asked ahead of the call (after validate-in and rules, as in the call), for a
 * framework that asks the person itself (see `Run.approval`): the request this call will find, made if there is none, with `decision`
 * recorded on it if it is still pending; undefined when the tool's policy asks no one about
 * this call, or when its arguments cannot be fingerprinted (the call itself will say why).
 * Store errors are thrown: the caller lets the call itself fail closed.
 */
export async function approvalAhead(call: Call, env: Env, decision?: ApprovalDecision): Promise<ApprovalRecord | undefined> {
  if (!(await asks(call, env))) return undefined;
  const request = await requestFor(call, env);
  if ("kind" in request) return undefined;
  if (!decision || request.status !== "pending") return request;
  const status = decision.approved ? "approved" : "denied";
  const reason = decision.reason !== undefined ? { reason: decision.reason } : {};
  return (await env.store.approvals.decide(request.id, { status, by: decision.by, at: env.clock.now(), ...reason })) ?? request;
}

/**
 * Whether a person is asked about this call: a rule asked, or the tool's `approval` says
 * so. Undefined when neither could ask (no approval option, no rule asked).
 */
async function asks(call: Call, env: Env): Promise<boolean | undefined> {
  const rule = call.tool.spec.approval;
  if ((rule === undefined || rule === "never") && call.approvalAsked === undefined) return undefined;
  if (call.approvalAsked !== undefined || rule === "always") return true;
  if (typeof rule !== "function") return false;
  const said = await judge((ctx) => rule(call.args, ctx), "approval", call, env, ruleContext(call, env));
  return !(said.ok && said.value === false);
}

/** The durable request for this call (by run, tool and canonical arguments), made if there is none. */
async function requestFor(call: Call, env: Env): Promise<ApprovalRecord | Failure> {
  const { tool, run } = call;
  let fingerprint: string;
  try {
    // Bound to the arguments as sent: a parsed value may render lossily (every URL as {}).
    fingerprint = digest(canonicalJson({ tool: tool.name, args: call.sent }));
  } catch (e) {
    if (e instanceof NotJsonError) return failures.invalidInput(tool.name, [e.message]);
    throw e;
  }
  const found = await env.store.approvals.find(run.runId, fingerprint);
  if (found) return found;
  const why = call.approvalAsked;
  const request: ApprovalRecord = {
    id: env.newId(),
    runId: run.runId,
    tool: tool.name,
    // The fingerprint binds the decision to the arguments as sent; the person sees them without secrets.
    args: redactArgs(call.args, tool.spec.redact),
    fingerprint,
    status: "pending",
    requestedAt: env.clock.now(),
    ...(why !== undefined ? { why } : {}),
  };
  await env.store.approvals.create(request);
  call.decisions?.decision("approval_requested", { "bulwark.approval.id": request.id });
  return request;
}
