/**
 * The verification gate's way through by reading: a read tool may declare which writes it
 * verifies (`verifies: ["update_reservation"]`, or a function of its arguments and a
 * write). A successful call of it after such writes counts them as read back, and the
 * run's unverified depth falls by as many; the gate's message names these reads, so the
 * model is told an action that passes it.
 */
import type { RunState } from "../call.js";
import type { Tool } from "../tool.js";

/** A mutation whose effect has not been read back. */
export interface UnverifiedWrite {
  tool: string;
  args: unknown;
}

/** Unverified writes kept per run: more than any sensible `maxUnverifiedDepth`. */
const KEPT = 32;

/** Remember a mutation that was not verified (record stage). */
export function rememberUnverified(run: RunState, tool: string, args: unknown): void {
  const list = (run.unverifiedWrites ??= []);
  list.push({ tool, args });
  if (list.length > KEPT) list.shift();
}

/** The writes not verified since the last gate: the latest `unverifiedDepth` of them. */
function pending(run: RunState): UnverifiedWrite[] {
  const depth = run.unverifiedDepth;
  return depth <= 0 ? [] : (run.unverifiedWrites ?? []).slice(-depth);
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

/**
 * A read tool's successful call: the pending writes it verifies are read back. Returns
 * how many it took off the run's unverified depth.
 */
export function readBack(run: RunState, tool: Tool, args: unknown): number {
  if (tool.effect !== "read" || tool.spec.verifies === undefined) return 0;
  const writes = pending(run);
  const left = writes.filter((w) => !verifies(tool, args, w));
  const done = writes.length - left.length;
  if (done === 0) return 0;
  run.unverifiedWrites = left;
  run.unverifiedDepth = left.length;
  return done;
}

/** The read tools known to the runtime that can verify the pending writes (for the gate's message). */
export function gateReaders(run: RunState, tools: Iterable<Tool> | undefined): string[] {
  const writes = pending(run);
  const names: string[] = [];
  for (const t of tools ?? []) {
    const v = t.effect === "read" ? t.spec.verifies : undefined;
    if (typeof v === "function" || (v && writes.some((w) => v.includes(w.tool)))) names.push(t.name);
  }
  return names;
}
