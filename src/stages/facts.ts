/**
 * Facts: the facts a response asserts (the tool's `facts(output, args, { callId,
 * sequence, now })`) are checked and reconciled with the run's ledger; a source's later
 * report supersedes its own earlier one. A malformed fact, or a `facts` hook that throws, is
 * `invalid_output`; a fact older than `maxFactAgeMs` is `stale_data` (nothing of the
 * response enters the ledger); a fact that ties with a different value is a
 * `contradiction`. A fact that loses to a stronger source does not fail the call: the
 * outcome carries a note with the current value, its source, and why it wins.
 */
import { preview } from "../canonical-json.js";
import { FactError, MAX_FACTS_PER_CALL, normalizeFact, type CheckedFact } from "../decide/ledger.js";
import { describeThrown, failures, notes } from "../failure.js";
import type { Call, Env, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

export function facts(call: Call, env: Env): Eventually<StageResult> {
  return call.tool.spec.facts ? reconciled(call, env, call.tool.spec.facts) : undefined;
}

async function reconciled(call: Call, env: Env, declare: NonNullable<Call["tool"]["spec"]["facts"]>): Promise<StageResult> {
  const { tool, run } = call;
  const { ledger } = run;
  // The response's place in the run's sequence: a source's later report supersedes its earlier one.
  const seq = ledger.nextSeq();
  const now = env.clock.now();
  let raw: unknown;
  try {
    raw = await declare(call.output, call.args, { callId: call.callId, sequence: seq, now });
  } catch (e) {
    return failures.factsUnreadable(tool.name, `its facts hook threw: ${describeThrown(e)}`);
  }
  if (!Array.isArray(raw)) return failures.factsUnreadable(tool.name, `its facts hook returned ${raw === null ? "null" : typeof raw}, not a list of facts`);
  if (raw.length > MAX_FACTS_PER_CALL) return failures.factsUnreadable(tool.name, `it asserts ${raw.length} facts, more than the limit of ${MAX_FACTS_PER_CALL}`);

  const checked: CheckedFact[] = [];
  for (const f of raw) {
    try {
      checked.push(normalizeFact(f, { tool: tool.name, callId: call.callId, now, seq }));
    } catch (e) {
      if (e instanceof FactError) return failures.invalidFact(tool.name, e.key, e.problem);
      throw e;
    }
  }
  const maxAge = run.policy.maxFactAgeMs;
  if (maxAge !== undefined) {
    for (const f of checked) {
      if (f.asOf !== undefined && now - f.asOf > maxAge) return failures.staleData(f.key, now - f.asOf, maxAge, f.source);
    }
  }

  let contradiction: StageResult;
  for (const f of checked) {
    const o = ledger.offer(f);
    if (o.status === "lost") {
      (call.notes ??= []).push(notes.factSuperseded(f.key, { value: show(f.value), source: f.source }, { value: show(o.winner.value), source: o.winner.source }, o.why));
    } else if (o.status === "disputed") {
      (call.notes ??= []).push(notes.factDisputed(f.key, o.contenders.map((c) => c.source)));
    } else if (o.status === "contradiction") {
      call.decisions?.decision("fact_contradicted", { "bulwark.fact.key": f.key, "bulwark.fact.sources": o.contenders.map((c) => c.source) });
      contradiction ??= failures.contradiction(
        f.key,
        `${o.contenders.map((c) => `${show(c.value)} from ${c.source}`).join(" against ")}, with the same authority (${f.authority}) and no newer version or date to tell them apart`,
      );
    }
  }
  return contradiction;
}

const show = (v: unknown) => preview(v, 200);
