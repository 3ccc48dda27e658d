/**
 * What shadow mode would have refused, summed per tool and kind: how many calls and runs,
 * by which stages, with the newest few as examples. Shared by `GET /api/shadow`, the
 * dashboard and `bulwark shadow`.
 */
import type { ShadowDecisionRecord } from "./store/types.js";

export interface ShadowSum {
  tool: string;
  kind: string;
  /** Calls that would have been refused. */
  calls: number;
  /** Runs those calls were made in. */
  runs: number;
  stages: string[];
  /** The newest decisions of this tool and kind. */
  examples: ShadowDecisionRecord[];
}

/** Sum `decisions` (newest first, as the store lists them), most frequent first. */
export function summarizeShadow(decisions: readonly ShadowDecisionRecord[], examples = 3): ShadowSum[] {
  const sums = new Map<string, ShadowSum & { runIds: Set<string>; callIds: Set<string> }>();
  for (const d of decisions) {
    const k = `${d.tool}\u0000${d.kind}`;
    let s = sums.get(k);
    if (!s) sums.set(k, (s = { tool: d.tool, kind: d.kind, calls: 0, runs: 0, stages: [], examples: [], runIds: new Set(), callIds: new Set() }));
    // One call may be refused twice for one kind (e.g. two rules): it is one call.
    if (!s.callIds.has(d.callId)) {
      s.callIds.add(d.callId);
      s.calls++;
    }
    s.runIds.add(d.runId);
    if (!s.stages.includes(d.stage)) s.stages.push(d.stage);
    if (s.examples.length < examples) s.examples.push(d);
  }
  return [...sums.values()]
    .map(({ runIds, callIds: _, ...s }) => ({ ...s, runs: runIds.size }))
    .sort((a, b) => b.calls - a.calls || a.tool.localeCompare(b.tool) || a.kind.localeCompare(b.kind));
}
