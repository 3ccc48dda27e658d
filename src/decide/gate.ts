/**
 * The verification gate's way through by reading: a read tool may declare which writes it
 * verifies (`verifies: ["update_reservation"]`, or a function of its arguments and a
 * write). A successful call of it after such writes counts them as read back, and the
 * run's unverified depth falls by as many; the gate's message names these reads, so the
 * model is told an action that passes it.
 */
import type { RunRecord, UnverifiedWrite } from "../store/types.js";
import type { Tool } from "../tool.js";
import { hasRules, type PolicyRule } from "./rules.js";

export type { UnverifiedWrite };

/** The part of a run's record the gate reads. */
type GateView = Pick<RunRecord, "unverifiedDepth" | "unverifiedWrites">;

/** Unverified writes kept per run: more than any sensible `maxUnverifiedDepth`. */
const KEPT = 32;

/** `r` after a mutation that was not verified: one deeper, the write remembered (run-state.ts settle). */
export function unverified<R extends GateView>(r: R, write: UnverifiedWrite): R {
  return { ...r, unverifiedDepth: r.unverifiedDepth + 1, unverifiedWrites: [...(r.unverifiedWrites ?? []), write].slice(-KEPT) };
}

/** The writes not verified since the last gate: the latest `unverifiedDepth` of them. */
function pending(r: GateView): UnverifiedWrite[] {
  const depth = r.unverifiedDepth;
  return depth <= 0 ? [] : (r.unverifiedWrites ?? []).slice(-depth);
}

function verifies(tool: Tool, args: unknown, write: UnverifiedWrite): boolean {
  const v = tool.spec.verifies;
  if (typeof v !== "function") return v?.includes(write.tool) ?? false;
  try {
    return v(args, write) === true;
  } catch {
    return false; // a predicate that cannot say verifies nothing
  }
}

/** What a read tool's successful call verifies, if it declares anything (see `readBack`). */
export type ReadBack = (write: UnverifiedWrite) => boolean;

/** The writes a successful call of `tool` with `args` would read back; undefined for a tool that verifies none. */
export function readBackOf(tool: Tool, args: unknown): ReadBack | undefined {
  if (tool.effect !== "read" || tool.spec.verifies === undefined) return undefined;
  return (w) => verifies(tool, args, w);
}

/**
 * `r` after a read that verifies some of its pending writes: the run's unverified depth
 * falls by as many. Returns `r` itself when it verifies none, and how many it did.
 */
export function readBack<R extends GateView>(r: R, check: ReadBack): { next: R; done: number } {
  const writes = pending(r);
  const left = writes.filter((w) => !check(w));
  const done = writes.length - left.length;
  return done === 0 ? { next: r, done } : { next: { ...r, unverifiedWrites: left, unverifiedDepth: left.length }, done };
}

/**
 * Whether a change's gate is checked at the approval stage rather than at admission: when
 * a person may be asked about it (the tool's `approval`, or a rule, which may ask for one),
 * because an approval is itself a verification gate. Then the approval stage checks it for
 * a call that asks no one.
 */
export function gateAtApproval(tool: Tool, policyRules: readonly PolicyRule[] | undefined): boolean {
  const a = tool.spec.approval;
  return (a !== undefined && a !== "never") || hasRules(tool, policyRules);
}

/** The read tools known to the runtime that can verify the pending writes (for the gate's message). */
export function gateReaders(r: GateView, tools: Iterable<Tool> | undefined): string[] {
  const writes = pending(r);
  const names: string[] = [];
  for (const t of tools ?? []) {
    const v = t.effect === "read" ? t.spec.verifies : undefined;
    if (typeof v === "function" || (v && writes.some((w) => v.includes(w.tool)))) names.push(t.name);
  }
  return names;
}
