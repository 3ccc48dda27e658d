/**
 * Rollback: undo a run's recorded mutations, newest first, through each tool's
 * `compensate(args, output, ctx)`. Each compensation runs at most once, even when a
 * rollback is interrupted and started again, or two run at the same time: a mutation is
 * moved done -> compensating in the store before its compensation runs, and only the
 * caller that made that move runs it. A mutation left "compensating" by a crash is
 * reported as interrupted, never re-run blindly: nobody knows whether its undo happened.
 *
 * A change still in flight is waited for first: the run is stopped in the store before a
 * rollback starts (no new call of it executes anywhere), then the run's claims in flight
 * (`IdempotencyStore.unfinished`) are given up to `waitMs` to settle and their changes to
 * reach the ledger, so that a write that lands meanwhile is undone with the rest. What is
 * still in flight then, or was left unsettled (its effect unknown), is reported in
 * `inFlight`, never read as "no changes".
 *
 * It never gives up half-way for one failure: a compensation that throws or times out is
 * marked compensation_failed and reported, and the rest are still undone. The report
 * says what was undone, what could not be, and the checkpoint a person can restore from.
 */
import { attempt, AttemptContext } from "./attempt.js";
import type { Clock } from "./clock.js";
import { describeThrown } from "./failure.js";
import type { IdempotencyRecord, MutationRecord, Store } from "./store/types.js";
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

/** A call of the run whose change rollback could not see in the ledger: a person must check it. */
export interface InFlightCall {
  tool: string;
  /** Its idempotency key. */
  key: string;
  callId: string;
  /**
   * in_flight: still executing when the wait ended (roll back again once it ends);
   * unrecorded: it finished, but its change had not reached the ledger when the wait ended;
   * unsettled: its owner could not tell whether the effect took place (see IdempotencyRecord).
   */
  state: "in_flight" | "unrecorded" | "unsettled";
  /** When it was claimed. */
  since: number;
}

export interface RollbackReport {
  runId: string;
  /** True when every recorded mutation of the run is undone (now or before), and no call of it is in flight or unsettled. */
  complete: boolean;
  /** One step per recorded mutation, newest first (the order they were undone in). */
  steps: RollbackStep[];
  /** The steps undone by this rollback. */
  undone: RollbackStep[];
  /** The steps that are not undone and need a person: failed, not compensable, interrupted. */
  notUndone: RollbackStep[];
  /** The run's calls whose change may stand outside the ledger: still in flight after the wait, or unsettled. */
  inFlight: InFlightCall[];
  /** One line for people and logs. */
  summary: string;
}

export interface RollbackOptions {
  store: Store;
  clock: Clock;
  runId: string;
  /** The tools that made the mutations, by name: compensations are functions on them. */
  tools: ReadonlyMap<string, Tool>;
  /**
   * How long to wait, by `clock`, for the run's calls in flight to settle and their changes
   * to reach the ledger before undoing [DEFAULT_ROLLBACK_WAIT_MS]. The run must already be
   * stopped, so that no new call starts meanwhile.
   */
  waitMs?: number;
}

/** What `rt.rollback` and `run.rollback` take besides the tools. */
export interface RollbackWait {
  /** How long to wait for the run's calls in flight to settle before undoing [DEFAULT_ROLLBACK_WAIT_MS]. */
  waitMs?: number;
}

/** How long a rollback waits for the run's calls in flight: a tool's default timeout, retried, with room for the record. */
export const DEFAULT_ROLLBACK_WAIT_MS = 30_000;
/** How often the wait looks again. */
const POLL_MS = 50;

export async function rollback(o: RollbackOptions): Promise<RollbackReport> {
  const { store, clock, runId, tools } = o;
  const waitMs = o.waitMs ?? DEFAULT_ROLLBACK_WAIT_MS;
  if (!Number.isFinite(waitMs) || waitMs < 0) throw new TypeError("rollback: waitMs must be a number of milliseconds, 0 or more");
  const { ledger, inFlight } = await settled(store, clock, runId, waitMs);
  const mutations = ledger.sort((a, b) => b.seq - a.seq);
  const steps: RollbackStep[] = [];
  for (const m of mutations) steps.push(await undo(m));
  const undone = steps.filter((s) => s.status === "compensated");
  const notUndone = steps.filter((s) => s.status !== "compensated" && s.status !== "already_compensated");
  const complete = inFlight.length === 0 && steps.every((s) => s.status === "compensated" || s.status === "already_compensated");
  return { runId, complete, steps, undone, notUndone, inFlight, summary: summarize(runId, steps, undone, notUndone, inFlight) };

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

/**
 * Wait, up to `waitMs`, until the run has no claim in flight and every call seen in flight
 * that completed has its change in the ledger (the ledger entry and the completion are
 * written side by side, so one may land a moment after the other). Returns the ledger as
 * it then is, and the calls whose change may stand outside it.
 */
async function settled(store: Store, clock: Clock, runId: string, waitMs: number): Promise<{ ledger: MutationRecord[]; inFlight: InFlightCall[] }> {
  const deadline = clock.now() + waitMs;
  /** Calls seen in flight, by call id: once completed, their change is expected in the ledger. */
  const seen = new Map<string, IdempotencyRecord>();
  for (;;) {
    const open = await store.idempotency.unfinished(runId);
    const ledger = await store.mutations.list(runId);
    const recorded = new Set(ledger.map((m) => m.id));
    const flying = open.filter((r) => r.state === "in_flight");
    for (const r of flying) seen.set(r.owner, r);
    const unrecorded: IdempotencyRecord[] = [];
    for (const r of seen.values()) {
      if (recorded.has(r.owner) || flying.some((f) => f.owner === r.owner)) continue;
      const now = await store.idempotency.get(r.scope, r.key);
      if (now?.owner === r.owner && now.state === "completed") unrecorded.push(r);
    }
    if ((flying.length === 0 && unrecorded.length === 0) || clock.now() >= deadline) {
      const unsettled = open.filter((r) => r.state === "unsettled" && !recorded.has(r.owner));
      const call = (r: IdempotencyRecord, state: InFlightCall["state"]): InFlightCall => ({ tool: r.scope, key: r.key, callId: r.owner, state, since: r.createdAt });
      return {
        ledger,
        inFlight: [...flying.map((r) => call(r, "in_flight")), ...unrecorded.map((r) => call(r, "unrecorded")), ...unsettled.map((r) => call(r, "unsettled"))],
      };
    }
    await clock.sleep(Math.max(1, Math.min(POLL_MS, deadline - clock.now())));
  }
}

function summarize(runId: string, steps: RollbackStep[], undone: RollbackStep[], notUndone: RollbackStep[], inFlight: InFlightCall[]): string {
  const pending =
    inFlight.length > 0
      ? `${inFlight.length} call${inFlight.length === 1 ? "" : "s"} NOT settled, their changes may stand (${inFlight.map((c) => `${c.tool} ${c.callId}: ${c.state}`).join("; ")}): check them, and roll back again once they end`
      : undefined;
  if (steps.length === 0) return pending ? `run ${runId}: no changes recorded yet, ${pending}` : `run ${runId} recorded no changes: nothing to roll back`;
  const already = steps.length - undone.length - notUndone.length;
  const parts = [`run ${runId}: ${undone.length} of ${steps.length} changes undone now`];
  if (already > 0) parts.push(`${already} undone before`);
  if (notUndone.length > 0)
    parts.push(`${notUndone.length} NOT undone (${notUndone.map((s) => `${s.tool} #${s.seq}: ${s.status}${s.checkpoint !== undefined ? `, checkpoint ${JSON.stringify(s.checkpoint)}` : ""}`).join("; ")})`);
  if (pending) parts.push(pending);
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
