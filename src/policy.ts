/**
 * Run policy: the limits a run is held to. The runtime's policy is the base, each run may
 * override it; `resolvePolicy` checks the result once and throws a clear error for
 * nonsense (a negative limit, a freeze window that ends before it starts).
 */
import { NEUTRAL_FAILURES, type FailureKind } from "./failure.js";
import { confidenceDefaults, type ConfidencePenalties, type ConfidencePolicy } from "./decide/confidence.js";
import { verificationDefaults, type VerificationPolicy } from "./decide/verification.js";
import type { PolicyRule } from "./decide/rules.js";
import { badDuration, badWhole } from "./option-checks.js";
import { readInstant } from "./time.js";

/** A freeze window as a policy is written: each end an epoch ms, an ISO text or a Date. */
export interface FreezeWindow {
  from: number | string | Date;
  to: number | string | Date;
}

/** A freeze window as a resolved policy holds it: both ends epoch ms, `from` before `to`. */
export interface FreezeSpan {
  from: number;
  to: number;
}

/** The resolved policy (`resolvePolicy`'s answer): complete and checked. Written as `PolicyInput`. */
export interface Policy {
  /** Tool calls per run [50]. Replays of an earlier call use none. */
  maxSteps: number;
  /** Wall time per run, from its start [none]. */
  deadlineMs?: number;
  /** Chain breaker: after this many failed calls in a row the run halts [2]. */
  maxConsecutiveFailures: number;
  /**
   * Which failures count toward the chain breaker. By default all but those that ask the
   * caller to wait for someone (`approval_required`) and those that are already terminal.
   */
  countsTowardChain: (kind: FailureKind) => boolean;
  /** Mutations in a row whose effect was not verified before a gate is required [3]. */
  maxUnverifiedDepth: number;
  destructive: { maxPerRun: number };
  /** No write or destructive call while frozen (always, or within these windows) [false]. */
  freeze: boolean | FreezeSpan[];
  /** Facts older than this are stale [none]. */
  maxFactAgeMs?: number;
  /** How long a call waits for a human's approval before returning approval_required [0]. */
  approvalWaitMs: number;
  /** A call's arguments larger than this as JSON are `invalid_input` [1 MiB]. */
  maxArgumentBytes: number;
  /** A call's arguments nested deeper than this are `invalid_input` [64; at most 1000]. */
  maxArgumentDepth: number;
  /** Graceful degradation: thresholds below which the run only reads, then hands off. */
  confidence: ConfidencePolicy;
  /** Decision verification: the quorum of agreeing verifiers, each one's time limit. */
  verification: VerificationPolicy;
  /**
   * Rules across tools (see decide/rules.ts), checked before each call's own tool rules.
   * A run's rules are added to its runtime's, never replace them [none].
   */
  rules?: readonly PolicyRule[];
  /** How long a rule (or an approval predicate) may take before it fails closed [1000]. */
  ruleTimeoutMs: number;
}

/** A policy as the runtime and each run are given it: any part, the rest inherited. */
export type PolicyInput = Partial<Omit<Policy, "destructive" | "confidence" | "verification" | "freeze">> & {
  freeze?: boolean | FreezeWindow[];
  destructive?: Partial<Policy["destructive"]>;
  confidence?: Partial<Omit<ConfidencePolicy, "penalties">> & { penalties?: Partial<ConfidencePenalties> };
  verification?: Partial<VerificationPolicy>;
};

export const defaultPolicy: Policy = {
  maxSteps: 50,
  maxConsecutiveFailures: 2,
  countsTowardChain: (kind) => !NEUTRAL_FAILURES.has(kind),
  maxUnverifiedDepth: 3,
  destructive: { maxPerRun: 3 },
  freeze: false,
  approvalWaitMs: 0,
  maxArgumentBytes: 1024 * 1024,
  maxArgumentDepth: 64,
  ruleTimeoutMs: 1_000,
  confidence: confidenceDefaults,
  verification: verificationDefaults,
};

export class PolicyError extends TypeError {
  constructor(message: string) {
    super(`invalid policy: ${message}`);
    this.name = "PolicyError";
  }
}

/** Merge `overrides` onto `base` (later wins) and check the result. */
export function resolvePolicy(base: Policy, ...overrides: (PolicyInput | undefined)[]): Policy {
  // Merged as written; `freeze` (the one part whose written form differs) is resolved last.
  let p: Omit<Policy, "freeze"> & { freeze: unknown } = base;
  for (const o of overrides) {
    if (o === undefined) continue;
    if (typeof o !== "object" || o === null) throw new PolicyError(`expected an object, got ${JSON.stringify(o)}`);
    const prev = p;
    p = { ...p, ...stripUndefined(o), destructive: { ...p.destructive, ...stripUndefined(o.destructive ?? {}) } } as typeof p;
    p.confidence = {
      ...prev.confidence,
      ...stripUndefined(o.confidence ?? {}),
      penalties: { ...prev.confidence.penalties, ...stripUndefined(o.confidence?.penalties ?? {}) },
    } as ConfidencePolicy;
    p.verification = { ...prev.verification, ...stripUndefined(o.verification ?? {}) };
    if (o.rules !== undefined) {
      checkRules(o.rules);
      p.rules = [...(prev.rules ?? []), ...o.rules];
    }
  }
  wholeAtLeast("maxSteps", p.maxSteps, 1);
  wholeAtLeast("maxConsecutiveFailures", p.maxConsecutiveFailures, 1);
  wholeAtLeast("maxUnverifiedDepth", p.maxUnverifiedDepth, 1);
  wholeAtLeast("destructive.maxPerRun", p.destructive.maxPerRun, 0);
  if (p.deadlineMs !== undefined) duration("deadlineMs", p.deadlineMs);
  if (p.maxFactAgeMs !== undefined) duration("maxFactAgeMs", p.maxFactAgeMs);
  duration("approvalWaitMs", p.approvalWaitMs, { zero: true });
  duration("ruleTimeoutMs", p.ruleTimeoutMs, { timer: true });
  wholeAtLeast("maxArgumentBytes", p.maxArgumentBytes, 1);
  wholeAtLeast("maxArgumentDepth", p.maxArgumentDepth, 1);
  // The copy of the arguments recurses once per level: a bound keeps it far from the stack's end.
  if (p.maxArgumentDepth > 1000) throw new PolicyError(`maxArgumentDepth must be at most 1000, not ${p.maxArgumentDepth}`);
  checkConfidence(p.confidence);
  wholeAtLeast("verification.quorum", p.verification.quorum, 1);
  duration("verification.timeoutMs", p.verification.timeoutMs, { timer: true });
  if (typeof p.countsTowardChain !== "function") throw new PolicyError("countsTowardChain must be a function of a failure kind");
  return { ...p, freeze: normalizeFreeze(p.freeze) };
}

function checkRules(rules: unknown) {
  if (!Array.isArray(rules)) throw new PolicyError(`rules must be a list of rules, not ${JSON.stringify(rules)}`);
  rules.forEach((r: unknown, i) => {
    if (typeof r === "function") return;
    const o = r as { rule?: unknown; name?: unknown; tools?: unknown; effects?: unknown } | null;
    if (typeof o?.rule !== "function") throw new PolicyError(`rules[${i}] must be a function (args, ctx) => reason | undefined, or { rule, name?, tools?, effects? }`);
    if (o.name !== undefined && typeof o.name !== "string") throw new PolicyError(`rules[${i}].name must be a text`);
    for (const list of ["tools", "effects"] as const) {
      const v = o[list];
      if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === "string")))
        throw new PolicyError(`rules[${i}].${list} must be a list of ${list === "tools" ? "tool names" : "effects (read, write, destructive)"}`);
    }
  });
}

function checkConfidence(c: ConfidencePolicy) {
  const share = (name: string, v: unknown) => {
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw new PolicyError(`confidence.${name} must be a number from 0 to 1, not ${JSON.stringify(v)}`);
  };
  share("readOnlyBelow", c.readOnlyBelow);
  share("handoffBelow", c.handoffBelow);
  if (c.handoffBelow > c.readOnlyBelow)
    throw new PolicyError(`confidence.handoffBelow (${c.handoffBelow}) must not be above confidence.readOnlyBelow (${c.readOnlyBelow}): a run narrows to reading before it hands off`);
  for (const [k, v] of Object.entries(c.penalties)) share(`penalties.${k}`, v);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function wholeAtLeast(name: string, v: unknown, min: number) {
  const why = badWhole(v, min);
  if (why) throw new PolicyError(`${name} ${why}`);
}

function duration(name: string, v: unknown, o?: { zero?: boolean; timer?: boolean }) {
  const why = badDuration(v, o);
  if (why) throw new PolicyError(`${name} ${why}`);
}

export function normalizeFreeze(freeze: unknown): Policy["freeze"] {
  if (typeof freeze === "boolean") return freeze;
  if (!Array.isArray(freeze)) throw new PolicyError(`freeze must be true, false or a list of { from, to } windows, not ${JSON.stringify(freeze)}`);
  return freeze.map((w, i) => {
    const read = (end: "from" | "to") => {
      const r = readInstant((w as Record<string, unknown> | null)?.[end]);
      if ("problem" in r) throw new PolicyError(`freeze[${i}].${end}: ${r.problem}`);
      return r.ms;
    };
    const from = read("from");
    const to = read("to");
    if (to <= from)
      throw new PolicyError(`freeze[${i}] ends (${new Date(to).toISOString()}) before it starts (${new Date(from).toISOString()})`);
    return { from, to };
  });
}

/** Whether mutations are frozen at `now`, and until when if that is known. */
export function frozenAt(freeze: Policy["freeze"], now: number): { frozen: boolean; until?: number } {
  if (freeze === true) return { frozen: true };
  if (freeze === false) return { frozen: false };
  for (const w of freeze) if (now >= w.from && now < w.to) return { frozen: true, until: w.to };
  return { frozen: false };
}
