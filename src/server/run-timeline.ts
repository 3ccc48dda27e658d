/**
 * A run's timeline for its page: every call from the store's call journal (a page of it),
 * with its outcome, the stage that refused it and why, latency and the confidence after it;
 * the run's recent decisions and its facts from its record. A store without a journal
 * (optional on the Store contract) gives the last calls its record keeps, and says so.
 */
import { FactLedger, type CallSummary, type DecisionSummary, type JournaledCall, type LedgerSnapshot, type RunRecord, type Runtime } from "../index.js";

export interface RunTimeline {
  /** Whether `calls` is every call (the store keeps a journal) or only the last ones the run's record keeps. */
  journal: boolean;
  calls: (JournaledCall | (CallSummary & { seq?: undefined }))[];
  /** Where the next page starts (`?after=`), while there are more calls. */
  next?: number;
  /** The run's confidence after each call, in order, from 1 at its start. */
  confidence: { at: number; confidence: number }[];
  /** The last decisions checked by `verifyDecision`, from the run's record. */
  decisions: DecisionSummary[];
  /** The facts in play, as the run's record holds them. */
  facts: LedgerSnapshot | null;
}

export async function runTimeline(rt: Runtime, runId: string, run: RunRecord | undefined, page: { after?: number; limit: number }): Promise<RunTimeline> {
  const history = run?.history as { calls?: CallSummary[]; decisions?: DecisionSummary[] } | undefined;
  const decisions = history?.decisions ?? [];
  const facts = run?.facts === undefined ? null : FactLedger.from(run.facts as Parameters<typeof FactLedger.from>[0]).snapshot();
  const journal = rt.store.callJournal;
  if (!journal) return { journal: false, calls: history?.calls ?? [], confidence: [], decisions, facts };
  const { calls, next } = await journal.list(runId, page);
  const start = run ? [{ at: run.startedAt, confidence: 1 }] : [];
  return {
    journal: true,
    calls,
    ...(next !== undefined ? { next } : {}),
    confidence: page.after === undefined ? [...start, ...calls.map((c) => ({ at: c.at + c.latencyMs, confidence: c.confidence }))] : calls.map((c) => ({ at: c.at + c.latencyMs, confidence: c.confidence })),
    decisions,
    facts,
  };
}
