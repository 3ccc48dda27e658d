/**
 * The facts ledger: per run, for each fact key, the value that wins among the sources
 * that asserted it. Higher authority wins; then a newer declared `version`; then a newer
 * `asOf`. Equal authority and equal freshness with different values is a contradiction,
 * and the key has no winner until a stronger source settles it.
 *
 * A source that reports a key again supersedes its own earlier report (a reservation
 * read again after it was changed), unless the new report is older by its own version or
 * date. Which report is later is the run's sequence (`seq`, given by the facts stage), or
 * the order of arrival. A contradiction is only ever between different sources.
 *
 * Values are compared structurally (canonical JSON): key order and number spelling make
 * no difference. A fact is checked before it enters (`normalizeFact`): a key, a source,
 * a JSON value of bounded size, a valid date. The ledger is a plain data structure; the
 * facts stage decides what a call's outcome says about it.
 */
import { canonicalJson, NotJsonError, preview } from "../canonical-json.js";
import { toEpochMs } from "../time.js";

/** A claim a tool makes about the world (its `facts` hook), with its provenance. */
export interface Fact {
  key: string;
  value: unknown;
  source: string;
  /** Higher is newer. Compared before `asOf`. */
  version?: number | string;
  /** When the source says the value was true: epoch ms, an ISO date text, or a Date. */
  asOf?: number | string | Date;
  /** Higher wins [0]. */
  authority?: number;
}

/** How far ahead of this runtime's clock a fact's asOf may be (clocks differ a little). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** Largest fact value accepted, as canonical JSON text (characters). Larger ones are refused, not truncated: a cut value would compare wrong. */
export const MAX_FACT_VALUE_CHARS = 16 * 1024;
/** Most facts one response may assert. */
export const MAX_FACTS_PER_CALL = 256;
const MAX_KEY_CHARS = 256;
const MAX_SOURCE_CHARS = 256;
/** Superseded values kept per key (to recognise an answer built on an old value). */
const SUPERSEDED_KEPT = 8;

/** A fact as the ledger holds it: checked, `asOf` as epoch ms, authority resolved. */
export interface ReconciledFact {
  key: string;
  value: unknown;
  source: string;
  version?: number | string;
  /** Epoch ms. */
  asOf?: number;
  authority: number;
  /** The tool whose response asserted it, and the call. */
  tool?: string;
  callId?: string;
  /** When the run recorded it (runtime clock). */
  recordedAt: number;
  /** The run's sequence number of the report: a later report of the same source supersedes an earlier one. */
  seq?: number;
}

export interface CheckedFact extends ReconciledFact {
  /** Canonical JSON of the value: what "same value" means. */
  readonly canonical: string;
}

/** A fact that could not be admitted, with the reason. */
export class FactError extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`fact ${key}: ${problem}`);
    this.name = "FactError";
  }
}

/** Check a fact a tool asserted, and resolve it into the ledger's form. Throws FactError. */
export function normalizeFact(raw: unknown, where: { tool?: string; callId?: string; now: number; seq?: number }): CheckedFact {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new FactError("(unnamed)", `expected { key, value, source }, got ${show(raw)}`);
  const f = raw as Partial<Fact>;
  const key = typeof f.key === "string" && f.key.length > 0 ? f.key : undefined;
  if (!key) throw new FactError("(unnamed)", `key must be a non-empty text, got ${show(f.key)}`);
  const name = key.length > MAX_KEY_CHARS ? `${key.slice(0, 40)}…` : key;
  if (key.length > MAX_KEY_CHARS) throw new FactError(name, `the key is ${key.length} characters long, more than ${MAX_KEY_CHARS}`);
  if (typeof f.source !== "string" || f.source.length === 0 || f.source.length > MAX_SOURCE_CHARS)
    throw new FactError(key, `source must be a text of 1 to ${MAX_SOURCE_CHARS} characters, got ${show(f.source)}`);
  if (!("value" in f) || f.value === undefined) throw new FactError(key, "it has no value");
  let canonical: string;
  try {
    canonical = canonicalJson(f.value);
  } catch (e) {
    if (e instanceof NotJsonError) throw new FactError(key, `its value is not JSON: ${e.message}`);
    throw e;
  }
  if (canonical.length > MAX_FACT_VALUE_CHARS)
    throw new FactError(key, `its value is ${canonical.length} characters as JSON, more than the limit of ${MAX_FACT_VALUE_CHARS}; assert a smaller fact (an id, a digest, the one field that matters)`);
  let asOf: number | undefined;
  if (f.asOf !== undefined) {
    asOf = toEpochMs(f.asOf);
    if (asOf === undefined) throw new FactError(key, `asOf ${show(f.asOf)} is not a valid time (use epoch ms, an ISO 8601 text or a Date)`);
    // A date from the future would win every freshness comparison: a source's wrong
    // clock (or a typo in a year) must not make its value the truth.
    if (asOf > where.now + MAX_CLOCK_SKEW_MS)
      throw new FactError(key, `asOf ${new Date(asOf).toISOString()} is in the future (this runtime's time is ${new Date(where.now).toISOString()})`);
  }
  if (f.version !== undefined && !(typeof f.version === "string" || (typeof f.version === "number" && Number.isFinite(f.version))))
    throw new FactError(key, `version must be a number or a text, got ${show(f.version)}`);
  if (f.authority !== undefined && !(typeof f.authority === "number" && Number.isFinite(f.authority)))
    throw new FactError(key, `authority must be a finite number, got ${show(f.authority)}`);
  return {
    key,
    value: JSON.parse(canonical) as unknown,
    canonical,
    source: f.source,
    ...(f.version !== undefined ? { version: f.version } : {}),
    ...(asOf !== undefined ? { asOf } : {}),
    authority: f.authority ?? 0,
    ...(where.tool !== undefined ? { tool: where.tool } : {}),
    ...(where.callId !== undefined ? { callId: where.callId } : {}),
    recordedAt: where.now,
    ...(where.seq !== undefined ? { seq: where.seq } : {}),
  };
}

/**
 * How `a` ranks against `b`: > 0 when `a` wins. Authority first; then `version` when both
 * declare one; then `asOf` when both declare one. Nothing else counts as freshness (not
 * the order of arrival), so equal rank with different values is a contradiction.
 */
export function rank(a: ReconciledFact, b: ReconciledFact): { order: number; why: string } {
  if (a.authority !== b.authority) return { order: a.authority - b.authority, why: `authority ${a.authority} against ${b.authority}` };
  if (a.version !== undefined && b.version !== undefined) {
    const v = compareVersions(a.version, b.version);
    if (v !== 0) return { order: v, why: `version ${a.version} against ${b.version}` };
  }
  if (a.asOf !== undefined && b.asOf !== undefined && a.asOf !== b.asOf)
    return { order: a.asOf - b.asOf, why: `as of ${iso(a.asOf)} against ${iso(b.asOf)}` };
  return { order: 0, why: "equal authority and freshness" };
}

/** Natural order: "v2" < "v10", 3 < "2024-11" compares as text. */
export function compareVersions(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") return Math.sign(a - b);
  const pa = String(a).match(/\d+|\D+/g) ?? [];
  const pb = String(b).match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d/.test(x) ? Number(x) : NaN;
    const ny = /^\d/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny) && nx !== ny) return Math.sign(nx - ny);
    return x < y ? -1 : 1;
  }
  return 0;
}

/** What offering a fact did to the ledger. */
export type Offer =
  /** First value for the key. */
  | { status: "new"; winner: ReconciledFact }
  /** Same value as the current one (it may now carry the stronger provenance). */
  | { status: "agrees"; winner: ReconciledFact }
  /** A new value that outranks the old one, which is now superseded. */
  | { status: "won"; winner: ReconciledFact; previous: ReconciledFact[]; why: string }
  /** A later report of the same source with a new value: the source's earlier report is superseded. */
  | { status: "revised"; winner: ReconciledFact; previous: ReconciledFact }
  /** Outranked by the current value: the ledger keeps the current one. */
  | { status: "lost"; winner: ReconciledFact; offered: ReconciledFact; why: string }
  /** Equal rank, different values: the key has no winner now. */
  | { status: "contradiction"; contenders: ReconciledFact[]; offered: ReconciledFact }
  /** Outranked by values that contradict each other: the key stays disputed. */
  | { status: "disputed"; contenders: ReconciledFact[]; offered: ReconciledFact };

interface Slot {
  /** The top-ranked entries: one is a winner, several (with different values) a contradiction. */
  top: CheckedFact[];
  superseded: CheckedFact[];
}

export interface LedgerSnapshot {
  current: ReconciledFact[];
  contested: { key: string; contenders: ReconciledFact[] }[];
}

/** The ledger as the store keeps it (in the run's record): each key's top and superseded facts. */
export interface LedgerData {
  slots: { key: string; top: ReconciledFact[]; superseded: ReconciledFact[] }[];
}

export class FactLedger {
  /** The highest report sequence number seen (see `nextSeq`). */
  private lastSeq = 0;

  /** The sequence number of the next report: later reports of a source supersede its earlier ones. */
  nextSeq(): number {
    return ++this.lastSeq;
  }
  private slots = new Map<string, Slot>();
  /**
   * Facts offered here and not yet in the store, oldest first. A run's ledger is shared
   * through its record in the store: these are merged into the stored ledger at the run's
   * next commit, and offered again onto a newer ledger read from the store.
   */
  unsaved: CheckedFact[] = [];

  /** A ledger holding what `data` holds. */
  static from(data: LedgerData | undefined): FactLedger {
    const l = new FactLedger();
    l.load(data);
    return l;
  }

  /** Replace what this ledger holds by `data` (from the store), then offer the unsaved facts again. */
  load(data: LedgerData | undefined): void {
    this.slots = new Map();
    for (const s of data?.slots ?? []) this.slots.set(s.key, { top: s.top.map(checked), superseded: s.superseded.map(checked) });
    for (const f of this.unsaved) this.place(f, true);
    for (const s of this.slots.values()) for (const f of [...s.top, ...s.superseded]) if (f.seq !== undefined && f.seq > this.lastSeq) this.lastSeq = f.seq;
  }

  /** What the store keeps. */
  toData(): LedgerData {
    return { slots: [...this.slots].map(([key, s]) => ({ key, top: s.top.map(strip), superseded: s.superseded.map(strip) })) };
  }

  /** `data` with `facts` offered onto it (in order), as data. */
  static merge(data: LedgerData | undefined, facts: readonly CheckedFact[]): LedgerData {
    const l = FactLedger.from(data);
    for (const f of facts) l.place(f, true);
    return l.toData();
  }

  /** The winning fact for `key`, or undefined when unknown or contested. */
  get(key: string): ReconciledFact | undefined {
    const top = this.slots.get(key)?.top;
    return top && top.length === 1 ? strip(top[0]!) : undefined;
  }

  /** The equally ranked, disagreeing facts for `key`, or undefined when it is not contested. */
  contested(key: string): ReconciledFact[] | undefined {
    const top = this.slots.get(key)?.top;
    return top && top.length > 1 ? top.map(strip) : undefined;
  }

  /** Values of `key` that lost to the current one, newest last. */
  superseded(key: string): ReconciledFact[] {
    return (this.slots.get(key)?.superseded ?? []).map(strip);
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Whether `value` equals the current value of `key`, structurally. */
  matches(key: string, value: unknown): boolean {
    const top = this.slots.get(key)?.top;
    if (!top || top.length !== 1) return false;
    try {
      return canonicalJson(value) === top[0]!.canonical;
    } catch {
      return false;
    }
  }

  snapshot(): LedgerSnapshot {
    const current: ReconciledFact[] = [];
    const contested: LedgerSnapshot["contested"] = [];
    for (const [key, slot] of this.slots) {
      if (slot.top.length === 1) current.push(strip(slot.top[0]!));
      else contested.push({ key, contenders: slot.top.map(strip) });
    }
    return { current, contested };
  }

  /** What `offer` would do, without changing the ledger. */
  judge(fact: CheckedFact): Offer {
    return this.place(fact, false);
  }

  /** Put a checked fact (from `normalizeFact`) into the ledger. */
  offer(fact: CheckedFact): Offer {
    if (fact.seq !== undefined && fact.seq > this.lastSeq) this.lastSeq = fact.seq;
    this.unsaved.push(fact);
    return this.place(fact, true);
  }

  private place(fact: CheckedFact, commit: boolean): Offer {
    const real = this.slots.get(fact.key);
    if (!real) {
      if (commit) this.slots.set(fact.key, { top: [fact], superseded: [] });
      return { status: "new", winner: strip(fact) };
    }
    // `judge` works on a copy, so that one path decides for both.
    const slot = commit ? real : { top: [...real.top], superseded: [...real.superseded] };
    const own = slot.top.find((t) => t.source === fact.source);
    const fresher = own ? rank(fact, own).order : -1;
    if (own && fresher === 0 && !later(fact, own)) {
      // An earlier report of the source, arriving after its later one: nothing new.
      if (slot.top.length > 1) return { status: "disputed", contenders: slot.top.map(strip), offered: strip(fact) };
      if (own.canonical === fact.canonical) return { status: "agrees", winner: strip(own) };
      pushSuperseded(slot, fact);
      return { status: "lost", winner: strip(own), offered: strip(fact), why: `a later report from ${own.source}` };
    }
    if (own && fresher === 0) {
      // A source's later report replaces its earlier one; against the other sources (if
      // any) it is placed as if the earlier one had never been.
      const others = slot.top.filter((t) => t !== own);
      if (own.canonical === fact.canonical) {
        slot.top = [fact, ...others];
        return others.length === 0 ? { status: "agrees", winner: strip(fact) } : { status: "disputed", contenders: slot.top.map(strip), offered: strip(fact) };
      }
      pushSuperseded(slot, own);
      slot.top = others;
      if (others.length === 0) {
        slot.top = [fact];
        return { status: "revised", winner: strip(fact), previous: strip(own) };
      }
    }
    const head = slot.top[0]!;
    const r = rank(fact, head);
    if (r.order < 0) {
      if (slot.top.length > 1) return { status: "disputed", contenders: slot.top.map(strip), offered: strip(fact) };
      if (fact.canonical === head.canonical) return { status: "agrees", winner: strip(head) };
      pushSuperseded(slot, fact);
      return { status: "lost", winner: strip(head), offered: strip(fact), why: rank(head, fact).why };
    }
    if (r.order > 0) {
      const previous = slot.top;
      for (const p of previous) if (p.canonical !== fact.canonical) pushSuperseded(slot, p);
      slot.top = [fact];
      return previous.every((p) => p.canonical === fact.canonical)
        ? { status: "agrees", winner: strip(fact) }
        : { status: "won", winner: strip(fact), previous: previous.map(strip), why: r.why };
    }
    // Equal rank.
    if (slot.top.some((t) => t.canonical === fact.canonical)) {
      return slot.top.length === 1 ? { status: "agrees", winner: strip(head) } : { status: "disputed", contenders: slot.top.map(strip), offered: strip(fact) };
    }
    slot.top = [...slot.top, fact];
    return { status: "contradiction", contenders: slot.top.map(strip), offered: strip(fact) };
  }
}

/** Whether `a` was reported after `b` in the run's sequence (arrival order when either has none). */
function later(a: ReconciledFact, b: ReconciledFact): boolean {
  return a.seq === undefined || b.seq === undefined || a.seq > b.seq;
}

function pushSuperseded(slot: Slot, e: CheckedFact) {
  slot.superseded = slot.superseded.filter((s) => s.canonical !== e.canonical);
  slot.superseded.push(e);
  if (slot.superseded.length > SUPERSEDED_KEPT) slot.superseded.shift();
}

/** A stored fact with its canonical value worked out again. */
function checked(f: ReconciledFact): CheckedFact {
  return { ...f, canonical: canonicalJson(f.value) };
}

function strip(e: CheckedFact): ReconciledFact {
  const { canonical: _c, ...fact } = e;
  return fact;
}

function iso(ms: number) {
  return new Date(ms).toISOString();
}

const show = (v: unknown) => preview(v, 80);
