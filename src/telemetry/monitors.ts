/**
 * Monitors in the runtime: per agent, the distribution of its decisions (the tool it
 * chose, each call's outcome, the verdicts of `verifyDecision`, any label reported with
 * `run.observe`) against a baseline (chi-square and PSI, drift.ts); the texts of tool
 * outputs and decisions against theirs (hashed 3-grams and Jensen-Shannon, semantic.ts);
 * and per failure kind, its count per minute against its recent average (a spike).
 *
 * A call only appends to a buffer in memory. Every `flushMs` the buffer is merged into
 * each monitor's state in the store by compare-and-set (read, merge, write if nobody
 * wrote in between, else again), so that every process on the store feeds one monitor
 * and a restart keeps its baseline and window. A monitor that starts or stops drifting
 * raises or resolves its alert.
 */
import type { Clock } from "../clock.js";
import type { Store } from "../store/types.js";
import type { AlertInput, Alerts } from "./alerts.js";
import { checkDriftOptions, driftMessage, newCategoricalState, observeCategorical, type CategoricalState, type DriftOptions } from "./drift.js";
import { newSemanticState, observeText, semanticDefaults, type SemanticOptions, type SemanticState } from "./semantic.js";
import { every } from "./shared-ticker.js";

export interface SpikeOptions {
  /** The span of one count [60_000]. */
  bucketMs: number;
  /** Never a spike below this many in a bucket [10]. */
  minCount: number;
  /** A spike is this many times the recent average per bucket (plus three of its square roots) [4]. */
  factor: number;
}

export interface MonitorOptions {
  decisions?: Partial<DriftOptions>;
  texts?: Partial<SemanticOptions>;
  spikes?: Partial<SpikeOptions>;
  /** Watch the texts of tool outputs (not only decisions) [true]. */
  outputs?: boolean;
  /** How often buffered observations are merged into the store [1_000]. */
  flushMs?: number;
}

interface SpikeState {
  bucketStart: number;
  count: number;
  /** Exponentially weighted average count of the past buckets. */
  mean: number;
  buckets: number;
  drifting: boolean;
  last?: { count: number; threshold: number; at: number };
}

type Kind = "decision" | "text" | "spike";
type State = CategoricalState | SemanticState | SpikeState;

/** A monitor as stored: what it watches and its state. */
export interface MonitorDoc {
  kind: Kind;
  /** The agent, for decisions and texts; the failure kind, for spikes. */
  subject: string;
  name: string;
  state: State;
  /** The statistic after each merge that compared (newest last, at most HISTORY points), for trends. */
  history?: { at: number; value: number; threshold?: number }[];
}

export interface MonitorView extends MonitorDoc {
  key: string;
  updatedAt: number;
}

/** An observation waiting to be merged: a category, a value whose text is watched, or a failure's time. */
type Item = unknown;

/** Observations of one monitor waiting for the next flush. */
interface Bucket {
  doc: Omit<MonitorDoc, "state">;
  items: Item[];
}

function bucketIndex(): Record<Kind, Map<string, Map<string, Bucket>>> {
  return { decision: new Map(), text: new Map(), spike: new Map() };
}

export interface MonitorsDeps {
  store: () => Promise<Store>;
  clock: Clock;
  alerts: Alerts;
  onError: (e: unknown) => void;
}

/** Observations per monitor kept in memory between flushes; past it the oldest are dropped (and counted). */
const MAX_BUFFERED = 5_000;
/** Points of a monitor's history kept. */
const HISTORY = 120;
/** Attempts of one merge before it is left to the next flush. */
const MAX_CAS = 8;

export class Monitors {
  private readonly decisionOptions: DriftOptions;
  private readonly textOptions: SemanticOptions;
  private readonly spikeOptions: SpikeOptions;
  readonly outputs: boolean;
  private buffer = new Map<string, Bucket>();
  /**
   * The buffer's buckets by kind, subject and name: a call's observations find theirs
   * without building (and hashing) the key's text each time.
   */
  private index = bucketIndex();
  /** "output of <tool>", made once per tool: the name of the monitor of its outputs. */
  private readonly outputNames = new Map<string, string>();
  private flushing: Promise<void> | undefined;
  /** Stops this runtime's flushes on the process's shared timer (shared-ticker.ts). */
  private readonly stopTicking: () => void;
  /** Observations dropped because the store fell behind. */
  dropped = 0;

  constructor(
    private readonly deps: MonitorsDeps,
    options: MonitorOptions = {},
  ) {
    this.decisionOptions = checkDriftOptions(options.decisions);
    this.textOptions = { ...semanticDefaults, ...options.texts };
    for (const k of ["block", "baselineBlocks", "maxChars"] as const)
      if (!Number.isInteger(this.textOptions[k]) || this.textOptions[k] < 1) throw new RangeError(`monitors.texts.${k} must be a whole number of at least 1, not ${this.textOptions[k]}`);
    if (!(this.textOptions.margin >= 1)) throw new RangeError(`monitors.texts.margin must be at least 1, not ${this.textOptions.margin}`);
    this.spikeOptions = { bucketMs: 60_000, minCount: 10, factor: 4, ...options.spikes };
    this.outputs = options.outputs ?? true;
    const flushMs = options.flushMs ?? 1_000;
    if (!(flushMs > 0)) throw new RangeError(`monitors.flushMs must be positive, not ${flushMs}`);
    this.stopTicking = every(flushMs, () => void this.flush());
  }

  /** A decision of `agent`: a category of the distribution `name` (tool, outcome, verdict, or your label). */
  decision(agent: string, name: string, category: string): void {
    this.push("decision", agent, name, category);
  }

  /**
   * A text the agent produced or was given (a decision's text, a tool's output). Not
   * turned into text here: that waits for the flush, off the call's path.
   */
  text(agent: string, name: string, value: unknown): void {
    this.push("text", agent, name, value);
  }

  /** A tool's output (see `text`), watched as "output of <tool>". */
  output(agent: string, tool: string, value: unknown): void {
    let name = this.outputNames.get(tool);
    if (name === undefined) this.outputNames.set(tool, (name = `output of ${tool}`));
    this.push("text", agent, name, value);
  }

  /** A failure of this kind happened now. */
  failure(kind: string): void {
    this.push("spike", kind, "per minute", this.deps.clock.now());
  }

  /** Merge what is buffered into the store (one flush at a time). */
  flush(): Promise<void> {
    return (this.flushing ??= this.merge().finally(() => (this.flushing = undefined)));
  }

  async list(): Promise<MonitorView[]> {
    const rows = await (await this.deps.store()).monitors.list();
    return rows.map((r) => ({ ...(r.data as MonitorDoc), key: r.key, updatedAt: r.updatedAt }));
  }

  async close(): Promise<void> {
    this.stopTicking();
    await this.flush();
    if (this.buffer.size > 0) await this.flush(); // observed while the last flush ran
  }

  private push(kind: Kind, subject: string, name: string, item: Item) {
    let names = this.index[kind].get(subject);
    if (!names) this.index[kind].set(subject, (names = new Map()));
    let b = names.get(name);
    if (!b) {
      b = { doc: { kind, subject, name }, items: [] };
      names.set(name, b);
      this.buffer.set(`${kind}:${subject}:${name}`, b);
    }
    // The latest MAX_BUFFERED are kept: the oldest are dropped a buffer's worth at a time
    // (a shift per observation moved the whole buffer once it was full).
    if (b.items.length >= 2 * MAX_BUFFERED) this.drop(b);
    b.items.push(item);
  }

  /** Drop all but the latest MAX_BUFFERED observations of `b`. */
  private drop(b: Bucket): void {
    const over = b.items.length - MAX_BUFFERED;
    if (over <= 0) return;
    b.items.splice(0, over);
    this.dropped += over;
  }

  private async merge(): Promise<void> {
    if (this.buffer.size === 0) return;
    const batch = this.buffer;
    for (const b of batch.values()) this.drop(b);
    this.buffer = new Map();
    this.index = bucketIndex();
    let store: Store;
    try {
      store = await this.deps.store();
    } catch (e) {
      return this.deps.onError(e);
    }
    await Promise.all(
      [...batch].map(async ([key, { doc, items }]) => {
        try {
          await this.mergeOne(store, key, doc, items);
        } catch (e) {
          this.deps.onError(e);
        }
      }),
    );
  }

  private async mergeOne(store: Store, key: string, doc: Omit<MonitorDoc, "state">, items: Item[]) {
    for (let attempt = 0; attempt < MAX_CAS; attempt++) {
      const row = await store.monitors.get(key);
      const stored = row?.data as MonitorDoc | undefined;
      const state: State = stored ? stored.state : this.fresh(doc.kind);
      const was = state.drifting;
      const lastBefore = JSON.stringify((state as { last?: unknown }).last);
      for (const item of items) this.apply(doc.kind, state, item);
      const now = this.deps.clock.now();
      const history = stored?.history ?? [];
      const point = JSON.stringify((state as { last?: unknown }).last) !== lastBefore ? statistic(doc.kind, state, now) : undefined;
      const next: MonitorDoc = { ...doc, state, history: point ? [...history, point].slice(-HISTORY) : history };
      if (!(await store.monitors.put(key, row?.version ?? 0, next, now))) continue;
      if (state.drifting && !was) this.deps.alerts.raise(this.alertFor(key, next));
      else if (!state.drifting && was) this.deps.alerts.resolve(`drift:${key}`);
      return;
    }
    throw new Error(`monitor ${key}: ${MAX_CAS} writers in a row got there first; ${items.length} observations left out`);
  }

  private fresh(kind: Kind): State {
    if (kind === "decision") return newCategoricalState();
    if (kind === "text") return newSemanticState();
    return { bucketStart: 0, count: 0, mean: 0, buckets: 0, drifting: false };
  }

  private apply(kind: Kind, state: State, item: Item) {
    if (kind === "decision") observeCategorical(state as CategoricalState, String(item), this.decisionOptions);
    else if (kind === "text") observeText(state as SemanticState, textOf(item), this.textOptions);
    else countFailure(state as SpikeState, Number(item), this.spikeOptions);
  }

  private alertFor(key: string, m: MonitorDoc): AlertInput {
    const base = { key: `drift:${key}`, severity: "warning" as const };
    if (m.kind === "spike") {
      const s = m.state as SpikeState;
      return { ...base, kind: "failure_spike", summary: `${m.subject} failures spiked: ${s.last!.count} in a minute, against about ${s.mean.toFixed(1)} before (threshold ${s.last!.threshold.toFixed(0)})`, details: s.last };
    }
    if (m.kind === "text") {
      const s = m.state as SemanticState;
      return { ...base, kind: "drift", agent: m.subject, summary: `${m.subject}: the texts of ${m.name} drifted (Jensen-Shannon ${s.last!.divergence.toFixed(3)} against a calibrated threshold of ${s.last!.threshold.toFixed(3)})`, details: s.last };
    }
    const s = m.state as CategoricalState;
    return { ...base, kind: "drift", agent: m.subject, summary: driftMessage(`${m.subject}: ${m.name}`, this.decisionOptions.window, s.last!), details: { chiSquare: s.last!.chiSquare, pValue: s.last!.pValue, psi: s.last!.psi, baseline: s.last!.baseline, window: s.last!.window } };
  }
}

/** The figure a monitor is judged by: PSI for decisions, the divergence for texts, the count for spikes. */
function statistic(kind: Kind, state: State, at: number): { at: number; value: number; threshold?: number } | undefined {
  if (kind === "decision") {
    const last = (state as CategoricalState).last;
    return last && { at, value: last.psi };
  }
  const last = (state as SemanticState | SpikeState).last;
  if (!last) return undefined;
  return { at, value: "divergence" in last ? last.divergence : last.count, threshold: last.threshold };
}

/** Count one failure at time `at`; a bucket past its span closes into the average. */
function countFailure(s: SpikeState, at: number, o: SpikeOptions) {
  const bucket = Math.floor(at / o.bucketMs) * o.bucketMs;
  if (bucket > s.bucketStart) {
    if (s.buckets > 0 || s.count > 0) {
      // The closed bucket, then one empty bucket for each skipped (capped: the average is then ~0).
      const skipped = Math.min(60, (bucket - s.bucketStart) / o.bucketMs - 1);
      s.mean = s.buckets === 0 ? s.count : 0.7 * s.mean + 0.3 * s.count;
      s.mean *= 0.7 ** skipped;
      s.buckets++;
    }
    s.bucketStart = bucket;
    s.count = 0;
    s.drifting = false;
  }
  s.count++;
  const threshold = Math.max(o.minCount, o.factor * s.mean + 3 * Math.sqrt(s.mean));
  s.last = { count: s.count, threshold, at };
  if (s.count >= threshold) s.drifting = true;
}

/** The text of a value: itself if a string, else its JSON (a value that is not JSON: its type). */
function textOf(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}
