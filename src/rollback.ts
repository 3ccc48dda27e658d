/**
 * Rollback: undo a run's recorded mutations, newest first, through each tool's
 * `compensate(args, output, ctx)`. Each compensation runs at most once, even when a
 * rollback is interrupted and started again, or two run at the same time: a mutation is
 * moved done -> compensating in the store before its compensation runs, and only the
 * caller that made that move runs it. A mutation left "compensating" by a crash is
 * reported as interrupted, never re-run blindly: nobody knows whether its undo happened.
 *
 * It never gives up half-way for one failure: a compensation that throws or times out is
 * marked compensation_failed and reported, and the rest are still undone. The report
 * says what was undone, what could not be, and the checkpoint a person can restore from.
 */
import { attempt, AttemptContext } from "./attempt.js";
import type { Clock } from "./clock.js";
import { describeThrown } from "./failure.js";
import type { MutationRecord, Store } from "./store/types.js";
import type { Tool } from "./tool.js";

export type RollbackStepStatus =
  /** Undone now, by this rollback. */
  | "compensated"
  /** Undone by an earlier rollback. */
  | "already_compensated"
  /** The compensation threw or timed out (now or in an earlier rollback): a person must undo it. */
  | "compensation_failed"
  /** The tool has no compensate, or is not known to this runtime: a person must undo it. */
  | "not_compensable"
  /** An earlier rollback started this compensation and never finished it: a person must check. */
  | "interrupted"
  /** Another rollback is compensating it right now. */
  | "in_progress_elsewhere";

export interface RollbackStep {
  mutationId: string;
  seq: number;
  tool: string;
  effect: "write" | "destructive";
  args: unknown;
  status: RollbackStepStatus;
  /** Why it could not be undone. */
  error?: string;
  /** What the tool's checkpoint hook recorded before the action, to restore from by hand. */
  checkpoint?: unknown;
}

export interface RollbackReport {
  runId: string;
  /** True when every recorded mutation of the run is undone (now or before). */
  complete: boolean;
  /** One step per recorded mutation, newest first (the order they were undone in). */
  steps: RollbackStep[];
  /** The steps undone by this rollback. */
  undone: RollbackStep[];
  /** The steps that are not undone and need a person: failed, not compensable, interrupted. */
  notUndone: RollbackStep[];
  /** One line for people and logs. */
  summary: string;
}

export interface RollbackOptions {
  store: Store;
  clock: Clock;
  runId: string;
  /** The tools that made the mutations, by name: compensations are functions on them. */
  tools: ReadonlyMap<string, Tool>;
}

export async function rollback(o: RollbackOptions): Promise<RollbackReport> {
  const { store, clock, runId, tools } = o;
  const mutations = (await store.mutations.list(runId)).sort((a, b) => b.seq - a.seq);
  const steps: RollbackStep[] = [];
  for (const m of mutations) steps.push(await undo(m));
  const undone = steps.filter((s) => s.status === "compensated");
  const notUndone = steps.filter((s) => s.status !== "compensated" && s.status !== "already_compensated");
  const complete = steps.every((s) => s.status === "compensated" || s.status === "already_compensated");
  return { runId, complete, steps, undone, notUndone, summary: summarize(runId, steps, undone, notUndone) };

  async function undo(m: MutationRecord): Promise<RollbackStep> {
    const step = (status: RollbackStepStatus, error?: string): RollbackStep => ({
      mutationId: m.id,
      seq: m.seq,
      tool: m.tool,
      effect: m.effect,
      args: m.args,
      status,
      ...(error !== undefined ? { error } : {}),
      ...(m.checkpoint !== undefined ? { checkpoint: m.checkpoint } : {}),
    });
    switch (m.status) {
      case "compensated":
        return step("already_compensated");
      case "compensation_failed":
        return step("compensation_failed", m.error ?? "an earlier compensation failed");
      case "compensating":
        return step("interrupted", "an earlier rollback started this compensation and did not record its end; it was not run again");
    }
    const tool = tools.get(m.tool);
    if (!m.compensable || !tool?.spec.compensate)
      return step("not_compensable", !tool ? `the tool ${m.tool} is not known to this runtime (register it to roll it back)` : `${m.tool} has no compensate`);
    if (!(await store.mutations.transition(m.id, "done", "compensating"))) {
      const now = (await store.mutations.list(runId)).find((x) => x.id === m.id);
      return now?.status === "compensated" ? step("already_compensated") : step("in_progress_elsewhere");
    }
    // Compensations get their own idempotency key, forwarded like any write's.
    const ctx = new AttemptContext(runId, m.id, 1, `bw_undo_${m.id}`);
    const r = await attempt((c) => tool.spec.compensate!(m.args, m.output, c), ctx, tool.timeoutMs, clock);
    if (r.status === "ok") {
      await store.mutations.transition(m.id, "compensating", "compensated");
      return step("compensated");
    }
    const error = r.status === "error" ? describeThrown(r.error) : `timed out after ${tool.timeoutMs}ms`;
    await store.mutations.transition(m.id, "compensating", "compensation_failed", error);
    return step("compensation_failed", error);
  }
}

function summarize(runId: string, steps: RollbackStep[], undone: RollbackStep[], notUndone: RollbackStep[]): string {
  if (steps.length === 0) return `run ${runId} recorded no changes: nothing to roll back`;
  const already = steps.length - undone.length - notUndone.length;
  const parts = [`run ${runId}: ${undone.length} of ${steps.length} changes undone now`];
  if (already > 0) parts.push(`${already} undone before`);
  if (notUndone.length > 0)
    parts.push(`${notUndone.length} NOT undone (${notUndone.map((s) => `${s.tool} #${s.seq}: ${s.status}${s.checkpoint !== undefined ? `, checkpoint ${JSON.stringify(s.checkpoint)}` : ""}`).join("; ")})`);
  return parts.join(", ");
}

/** A registry of tools by name, for rollback; the same name twice must be the same tool. */
export function addTools(registry: Map<string, Tool>, tools: Iterable<Tool>, replace = false) {
  for (const t of tools) {
    if (!t || typeof t.name !== "string" || typeof t.spec !== "object") throw new TypeError("registerTools: expected tools made by defineTool");
    const known = registry.get(t.name);
    if (known && known !== t && !replace)
      throw new TypeError(`registerTools: another tool named ${JSON.stringify(t.name)} is already registered; tool names must be unique`);
    registry.set(t.name, t);
  }
}
