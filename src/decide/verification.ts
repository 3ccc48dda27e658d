/**
 * Decision verification: a high-stakes output (the answer to a customer, a plan before a
 * destructive step) is checked by more than one path before it matters. Each verifier
 * votes agree, disagree or abstain; deterministic verifiers may veto; a quorum of
 * agreement is needed to approve. A verifier that fails, times out or answers nonsense
 * abstains: silence is never approval.
 */
import { attempt, AttemptContext } from "../attempt.js";
import { assertJson, NotJsonError, preview } from "../canonical-json.js";
import type { Clock } from "../clock.js";
import { decisionMessages, describeThrown } from "../failure.js";
import type { FactLedger, LedgerSnapshot, ReconciledFact } from "./ledger.js";

/** A claim the decision relies on: this key has this value. */
export interface Claim {
  key: string;
  value: unknown;
}

export interface Decision {
  /** What would be said or done. */
  text: string;
  /** The facts it relies on; each must be the ledger's current value. */
  claims?: Claim[];
  /** Free-form label for dashboards ("answer", "plan"…). */
  about?: string;
}

export type Vote = "agree" | "disagree" | "abstain";

/** What a verifier found wrong, with the value that is current. */
export interface Correction {
  key: string;
  claimed?: unknown;
  /** The current value, or undefined when the key has none (unknown or contested). */
  current?: unknown;
  source?: string;
  problem: string;
}

export interface VerifierVerdict {
  verdict: Vote;
  reason: string;
  corrections?: Correction[];
}

/** The run's view of its facts, read-only. */
export type FactView = Pick<FactLedger, "get" | "contested" | "superseded" | "matches" | "snapshot">;

export interface VerifierContext {
  runId: string;
  agent: string;
  facts: FactView;
  now: number;
  /** The run's policy on fact age, when it has one. */
  maxFactAgeMs?: number;
  /** Aborted when the verifier times out or the run is stopped. */
  signal: AbortSignal;
}

export interface Verifier {
  name: string;
  /** A deterministic verifier's disagreement rejects the decision whatever the others say. */
  veto?: boolean;
  verify(decision: Decision, ctx: VerifierContext): Promise<VerifierVerdict> | VerifierVerdict;
}

export interface VerificationPolicy {
  /** Agreeing verifiers needed to approve [1]. */
  quorum: number;
  /** Each verifier's time limit; past it, it abstains [10_000]. */
  timeoutMs: number;
}

export const verificationDefaults: VerificationPolicy = { quorum: 1, timeoutMs: 10_000 };

export interface VerifierVote extends VerifierVerdict {
  verifier: string;
  veto: boolean;
}

export interface DecisionVerification {
  verdict: "approved" | "rejected" | "inconclusive";
  agreed: string[];
  disagreed: string[];
  abstained: string[];
  votes: VerifierVote[];
  corrections: Correction[];
  /** Written for the model: what to do with the decision now. */
  message: string;
}

/** Check the shape of a decision; throws TypeError for a programming mistake. */
export function checkDecision(d: unknown): asserts d is Decision {
  if (typeof d !== "object" || d === null) throw new TypeError("verifyDecision needs { text, claims? }");
  const { text, claims } = d as Partial<Decision>;
  if (typeof text !== "string") throw new TypeError("verifyDecision: decision.text must be a text");
  if (claims === undefined) return;
  if (!Array.isArray(claims)) throw new TypeError("verifyDecision: decision.claims must be a list of { key, value }");
  claims.forEach((c, i) => {
    if (typeof c?.key !== "string" || c.key.length === 0) throw new TypeError(`verifyDecision: claims[${i}].key must be a non-empty text`);
    try {
      assertJson(c.value);
    } catch (e) {
      if (e instanceof NotJsonError) throw new TypeError(`verifyDecision: claims[${i}] (${c.key}): ${e.message}`);
      throw e;
    }
  });
}

/**
 * The deterministic path: every claim must be the current, uncontested, fresh winner in
 * the ledger, and the text must not repeat a value the ledger has superseded. It vetoes.
 */
export const factsVerifier: Verifier = {
  name: "facts",
  veto: true,
  verify(decision, ctx) {
    const problems: Correction[] = [];
    const confirmed: string[] = [];
    for (const { key, value } of decision.claims ?? []) {
      const contenders = ctx.facts.contested(key);
      if (contenders) {
        problems.push({ key, claimed: value, problem: `sources of equal authority disagree about ${key} (${contenders.map((c) => `${show(c.value)} from ${c.source}`).join(", ")})` });
        continue;
      }
      const winner = ctx.facts.get(key);
      if (!winner) {
        problems.push({ key, claimed: value, problem: `no source consulted in this run established ${key}` });
        continue;
      }
      if (!ctx.facts.matches(key, value)) {
        problems.push({ key, claimed: value, current: winner.value, source: winner.source, problem: `${key} is ${show(winner.value)} according to ${provenance(winner)}, not ${show(value)}` });
        continue;
      }
      if (ctx.maxFactAgeMs !== undefined && winner.asOf !== undefined && ctx.now - winner.asOf > ctx.maxFactAgeMs) {
        problems.push({ key, claimed: value, current: winner.value, source: winner.source, problem: `the value of ${key} from ${winner.source} is older than the allowed age; fetch it again` });
        continue;
      }
      confirmed.push(`${key} (${winner.source})`);
    }
    // A text that repeats a superseded value is built on the losing source.
    const text = normalize(decision.text);
    const claimed = new Set((decision.claims ?? []).map((c) => c.key));
    for (const current of ctx.facts.snapshot().current) {
      if (claimed.has(current.key)) continue;
      for (const old of ctx.facts.superseded(current.key)) {
        if (typeof old.value !== "string" || old.value.length < 12) continue;
        if (text.includes(normalize(old.value)) && !(typeof current.value === "string" && text.includes(normalize(current.value)))) {
          problems.push({ key: current.key, current: current.value, source: current.source, problem: `the text repeats ${show(old.value)} from ${old.source}, which is superseded: ${current.key} is ${show(current.value)} according to ${provenance(current)}` });
          break;
        }
      }
    }
    if (problems.length > 0) return { verdict: "disagree", reason: problems.map((p) => p.problem).join("; "), corrections: problems };
    if (confirmed.length === 0) return { verdict: "abstain", reason: "the decision makes no claims that the facts ledger can check" };
    return { verdict: "agree", reason: `every claim matches the current value: ${confirmed.join(", ")}` };
  },
};

/** Ask every verifier at once, each under the time limit; failures and nonsense abstain. */
export async function collectVotes(
  decision: Decision,
  verifiers: readonly Verifier[],
  base: Omit<VerifierContext, "signal">,
  policy: VerificationPolicy,
  clock: Clock,
  cancel?: AbortSignal,
): Promise<VerifierVote[]> {
  return Promise.all(
    verifiers.map(async (v): Promise<VerifierVote> => {
      const veto = v.veto === true;
      const actx = new AttemptContext(base.runId, `verify:${v.name}`, 1, undefined);
      const ctx: VerifierContext = { ...base, get signal() { return actx.signal; } };
      const r = await attempt(() => v.verify(decision, ctx), actx, policy.timeoutMs, clock, cancel);
      const abstain = (reason: string): VerifierVote => ({ verifier: v.name, veto, verdict: "abstain", reason });
      if (r.status === "timeout") return abstain(`did not answer within ${policy.timeoutMs}ms`);
      if (r.status === "cancelled") return abstain("the run was stopped");
      if (r.status === "error") return abstain(`failed: ${describeThrown(r.error)}`);
      const verdict = r.value as Partial<VerifierVerdict> | undefined;
      if (typeof verdict !== "object" || verdict === null || !["agree", "disagree", "abstain"].includes(verdict.verdict as string))
        return abstain(`returned no valid verdict (${preview(verdict, 120)})`);
      return {
        verifier: v.name,
        veto,
        verdict: verdict.verdict as Vote,
        reason: typeof verdict.reason === "string" && verdict.reason ? verdict.reason.slice(0, 2_000) : "(no reason given)",
        ...(Array.isArray(verdict.corrections) ? { corrections: verdict.corrections } : {}),
      };
    }),
  );
}

/**
 * The verdict: rejected when a vetoing verifier disagrees or more disagree than agree;
 * approved when at least `quorum` agree and more agree than disagree; else inconclusive.
 */
export function tally(votes: readonly VerifierVote[], quorum: number): DecisionVerification {
  const agreed = votes.filter((v) => v.verdict === "agree").map((v) => v.verifier);
  const disagreed = votes.filter((v) => v.verdict === "disagree").map((v) => v.verifier);
  const abstained = votes.filter((v) => v.verdict === "abstain").map((v) => v.verifier);
  const vetoed = votes.some((v) => v.veto && v.verdict === "disagree");
  const corrections = votes.flatMap((v) => (v.verdict === "disagree" ? (v.corrections ?? []) : []));
  const verdict: DecisionVerification["verdict"] =
    vetoed || disagreed.length > agreed.length ? "rejected" : agreed.length >= quorum && agreed.length > disagreed.length ? "approved" : "inconclusive";
  const reasons = votes.filter((v) => v.verdict === "disagree").map((v) => `${v.verifier}: ${v.reason}`);
  const message =
    verdict === "approved"
      ? decisionMessages.approved(agreed, disagreed)
      : verdict === "rejected"
        ? decisionMessages.rejected(reasons, corrections.filter((c) => c.current !== undefined).map((c) => ({ key: c.key, value: show(c.current), source: c.source ?? "the ledger" })))
        : decisionMessages.inconclusive(agreed.length, quorum, votes.filter((v) => v.verdict !== "agree").map((v) => `${v.verifier}: ${v.reason}`));
  return { verdict, agreed, disagreed, abstained, votes: [...votes], corrections, message };
}

/** The snapshot a model verifier is shown: the claimed keys first, bounded. */
export function factsInPlay(snapshot: LedgerSnapshot, decision: Decision, limit = 50): ReconciledFact[] {
  const claimed = new Set((decision.claims ?? []).map((c) => c.key));
  const first = snapshot.current.filter((f) => claimed.has(f.key));
  const rest = snapshot.current.filter((f) => !claimed.has(f.key));
  return [...first, ...rest].slice(0, limit);
}

function provenance(f: ReconciledFact) {
  const parts = [`authority ${f.authority}`];
  if (f.version !== undefined) parts.push(`version ${f.version}`);
  if (f.asOf !== undefined) parts.push(`as of ${new Date(f.asOf).toISOString().slice(0, 10)}`);
  return `${f.source} (${parts.join(", ")})`;
}

function normalize(s: string) {
  return s.toLowerCase().replace(/\s+/g, " ").trim();
}

const show = (v: unknown) => preview(v, 200);

/** Check verifiers given as options; throws a TypeError naming the bad one. */
export function checkVerifiers(list: unknown, where: string): Verifier[] {
  if (!Array.isArray(list)) throw new TypeError(`${where}: verifiers must be a list of { name, verify }`);
  const names = new Set<string>(["facts"]);
  list.forEach((v, i) => {
    if (typeof v?.name !== "string" || v.name.length === 0) throw new TypeError(`${where}: verifiers[${i}] needs a name`);
    if (typeof v.verify !== "function") throw new TypeError(`${where}: verifiers[${i}] (${v.name}) needs a verify(decision, ctx) function`);
    if (names.has(v.name)) throw new TypeError(`${where}: two verifiers are named ${JSON.stringify(v.name)}; names must be unique (the facts ledger's is "facts")`);
    names.add(v.name);
  });
  return list as Verifier[];
}
