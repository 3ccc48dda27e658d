/**
 * Handoff: when a run's confidence falls too low it stops acting and a person takes
 * over. The handoff record is what that person needs, written to the store: why, the
 * facts in play (current and contested), the last calls and decisions, the confidence.
 */
import { canonicalJson } from "../canonical-json.js";
import type { Outcome } from "../failure.js";
import type { HandoffRecord } from "../store/types.js";
import type { Effect } from "../effect.js";
import type { LedgerSnapshot } from "./ledger.js";
import { redactArgs, type RedactHook } from "../redact.js";

/** Calls and decisions kept for the handoff context. */
const KEPT = 10;
/** Arguments larger than this are not kept at all (not even cut): redacting a huge value costs more than it shows. */
const ARGS_KEPT_CHARS = 64 * 1024;
/** Arguments longer than this (as JSON) are cut in the handoff context. */
const ARGS_PREVIEW_CHARS = 2_000;

export interface CallSummary {
  callId: string;
  tool: string;
  effect: Effect;
  args: unknown;
  ok: boolean;
  /** The failure kind, when it failed. */
  kind?: string;
  at: number;
}

export interface DecisionSummary {
  text: string;
  verdict: string;
  reasons: string[];
  at: number;
}

export interface HandoffContext {
  confidence: number;
  facts: LedgerSnapshot;
  lastCalls: CallSummary[];
  lastDecisions: DecisionSummary[];
}

/** A call not yet in the store, with its tool's redaction hook. */
interface UnsavedCall {
  summary: CallSummary;
  redact: RedactHook | undefined;
}

/** The history as the store keeps it (in the run's record), arguments already redacted and cut. */
export interface HistoryData {
  calls: CallSummary[];
  decisions: DecisionSummary[];
}

/**
 * The run's recent history, bounded: what the store holds, and what this process added
 * since its last commit (`unsaved`), which goes into the store with the run's next commit.
 */
export class RecentHistory {
  private saved: HistoryData = { calls: [], decisions: [] };
  unsaved: { calls: UnsavedCall[]; decisions: DecisionSummary[] } = { calls: [], decisions: [] };

  /** `redact`: the tool's redaction hook, for its arguments (applied before they are stored). */
  call(c: { callId: string; tool: string; effect: Effect; args: unknown; redact?: RedactHook | undefined }, outcome: Outcome<unknown>, at: number) {
    // The arguments are redacted and cut when the history is saved, not here.
    const summary: CallSummary = { callId: c.callId, tool: c.tool, effect: c.effect, args: c.args, ok: outcome.ok, at };
    if (!outcome.ok) summary.kind = outcome.failure.kind;
    push(this.unsaved.calls, { summary, redact: c.redact });
  }

  decision(d: DecisionSummary) {
    push(this.unsaved.decisions, { ...d, text: d.text.length > ARGS_PREVIEW_CHARS ? `${d.text.slice(0, ARGS_PREVIEW_CHARS)}…` : d.text });
  }

  /** What the store holds now (from the run's record). */
  load(data: HistoryData | undefined) {
    this.saved = data ?? { calls: [], decisions: [] };
  }

  /** `data` with the unsaved entries after it, bounded, as the store keeps it. */
  mergedInto(data: HistoryData | undefined, entries: RecentHistory["unsaved"] = this.unsaved): HistoryData {
    const calls = [
      ...(data?.calls ?? []),
      ...entries.calls.map(({ summary, redact }) => ({ ...summary, args: fits(summary.args, ARGS_KEPT_CHARS) ? preview(redactArgs(summary.args, redact)) : { omitted: `larger than ${ARGS_KEPT_CHARS} characters` } })),
    ];
    const decisions = [...(data?.decisions ?? []), ...entries.decisions];
    return { calls: calls.slice(-KEPT), decisions: decisions.slice(-KEPT) };
  }

  /** Whether some calls or decisions made here are not in the store yet. */
  get hasUnsaved(): boolean {
    return this.unsaved.calls.length > 0 || this.unsaved.decisions.length > 0;
  }

  /** These unsaved entries are in the store now. */
  committed(entries: RecentHistory["unsaved"]) {
    const calls = new Set(entries.calls);
    const decisions = new Set(entries.decisions);
    this.unsaved = { calls: this.unsaved.calls.filter((c) => !calls.has(c)), decisions: this.unsaved.decisions.filter((d) => !decisions.has(d)) };
  }

  get lastCalls(): CallSummary[] {
    return this.mergedInto(this.saved).calls;
  }

  get lastDecisions(): DecisionSummary[] {
    return this.mergedInto(this.saved).decisions;
  }
}

/** Why a run was handed off by its escalation tool: the tool and the arguments the agent gave it. */
export function escalationReason(tool: string, args: unknown, redact?: RedactHook): string {
  const shown = redactArgs(args, redact);
  const said = typeof shown === "string" ? shown : JSON.stringify(preview(shown));
  return `the agent called ${tool}: ${said.length > 500 ? `${said.slice(0, 500)}…` : said}`;
}

export function handoffRecord(o: {
  id: string;
  runId: string;
  agent: string;
  reason: string;
  at: number;
  confidence: number;
  facts: LedgerSnapshot;
  history: RecentHistory;
}): HandoffRecord & { context: HandoffContext } {
  return {
    id: o.id,
    runId: o.runId,
    agent: o.agent,
    reason: o.reason,
    context: { confidence: o.confidence, facts: o.facts, lastCalls: o.history.lastCalls, lastDecisions: o.history.lastDecisions },
    status: "open",
    at: o.at,
  };
}

function push<T>(list: T[], item: T) {
  list.push(item);
  if (list.length > KEPT) list.shift();
}

function preview(args: unknown): unknown {
  let text: string;
  try {
    text = canonicalJson(args ?? null);
  } catch {
    return "(arguments not representable as JSON)";
  }
  return text.length > ARGS_PREVIEW_CHARS ? { truncated: `${text.slice(0, ARGS_PREVIEW_CHARS)}…`, chars: text.length } : JSON.parse(text);
}

/** Whether `v`'s text and keys add up to at most `budget` characters, 64 levels deep at most (stops counting early). */
function fits(v: unknown, budget: number): boolean {
  const walk = (x: unknown, depth: number): boolean => {
    if (typeof x === "string") return (budget -= x.length) >= 0;
    if (x === null || typeof x !== "object") return (budget -= 8) >= 0;
    if (depth > 64) return false;
    for (const [k, y] of Object.entries(x)) if ((budget -= k.length) < 0 || !walk(y, depth + 1)) return false;
    return true;
  };
  return walk(v, 0);
}
