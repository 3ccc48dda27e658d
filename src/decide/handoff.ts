/**
 * Handoff: when a run's confidence falls too low it stops acting and a person takes
 * over. The handoff record is what that person needs, written to the store: why, the
 * facts in play (current and contested), the last calls and decisions, the confidence.
 */
import { canonicalJson } from "../canonical-json.js";
import type { Outcome } from "../failure.js";
import type { HandoffRecord } from "../store/types.js";
import type { Effect } from "../tool.js";
import type { LedgerSnapshot } from "./ledger.js";
import { redactArgs, type RedactHook } from "../redact.js";

/** Calls and decisions kept for the handoff context. */
const KEPT = 10;
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

/** The run's recent history, bounded. */
export class RecentHistory {
  private readonly calls: { summary: CallSummary; redact: RedactHook | undefined }[] = [];
  private readonly decisions: DecisionSummary[] = [];

  /** `redact`: the tool's redaction hook, for its arguments. */
  call(c: { callId: string; tool: string; effect: Effect; args: unknown; redact?: RedactHook | undefined }, outcome: Outcome<unknown>, at: number) {
    // The arguments are kept as they are and redacted and cut only when a handoff is
    // written: every call passes here, few runs hand off.
    const summary: CallSummary = { callId: c.callId, tool: c.tool, effect: c.effect, args: c.args, ok: outcome.ok, at };
    if (!outcome.ok) summary.kind = outcome.failure.kind;
    push(this.calls, { summary, redact: c.redact });
  }

  decision(d: DecisionSummary) {
    push(this.decisions, { ...d, text: d.text.length > ARGS_PREVIEW_CHARS ? `${d.text.slice(0, ARGS_PREVIEW_CHARS)}…` : d.text });
  }

  get lastCalls(): CallSummary[] {
    return this.calls.map(({ summary, redact }) => ({ ...summary, args: preview(redactArgs(summary.args, redact)) }));
  }

  get lastDecisions(): DecisionSummary[] {
    return [...this.decisions];
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
