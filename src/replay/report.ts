/**
 * What a replay found (a verdict for each call in each view, each run's, the report), the
 * summary of it (how many runs enforcement would have stopped, which refusals by
 * tool and kind, and with labels the confusion table: bad runs stopped, good runs stopped)
 * and its text for a terminal.
 */
import type { FailureKind } from "../failure.js";
import type { InputProblem } from "./recording.js";

/** What happened to one call in one view. */
export interface CallVerdict {
  tool: string;
  /** Bulwark refused it (a recorded error is the tool's failure, not a refusal). */
  refused: boolean;
  /** The refusal's kind; `tool_error` for a call whose recorded error stands. */
  kind?: FailureKind;
  /** The stage that refused it. */
  stage?: string;
  /** The message the model would have got. */
  message?: string;
  /** Answered from the idempotency record of an earlier identical call. */
  replayed?: true;
}

export interface RunReplay {
  runId: string;
  agent: string;
  label?: "good" | "bad";
  /** Where the run came from: its line, trace or position. */
  where: string;
  /** How many calls the recording has. */
  recorded: number;
  /** The enforcing view, up to and including the first refusal. */
  calls: CallVerdict[];
  /** Index of the call at which enforcement would have stopped the run. */
  stoppedAt?: number;
  /** Every call judged on its own, the run going on as it really did. */
  judged: CallVerdict[];
}

export interface ReplayReport {
  runs: RunReplay[];
  /** Input that was not replayed, with where it is and why. */
  skipped: InputProblem[];
  summary: ReplaySummary;
}

export interface Refusals {
  tool: string;
  kind: string;
  /** Runs the enforcing view stopped with this refusal. */
  runsStopped: number;
  /** Calls judged on their own that would have got it. */
  callsRefused: number;
}

export interface ReplaySummary {
  /** Runs replayed. */
  runs: number;
  /** Calls recorded in the runs replayed. */
  calls: number;
  /** Lines, spans or runs that could not be replayed. */
  skipped: number;
  /** Runs that enforcement would have stopped. */
  stopped: number;
  /** Calls that, judged on their own, would have been refused. */
  callsRefused: number;
  /** By tool and kind, most frequent first. */
  refusals: Refusals[];
  /** When runs are labelled: bad runs stopped (caught) and good runs stopped (false halts). */
  labels?: { bad: { stopped: number; passed: number }; good: { stopped: number; passed: number }; unlabelled: number };
}

export function summarize(runs: readonly RunReplay[], skipped: readonly InputProblem[]): ReplaySummary {
  const refusals = new Map<string, Refusals>();
  const entry = (tool: string, kind: string) => {
    const k = `${tool}\u0000${kind}`;
    let r = refusals.get(k);
    if (!r) refusals.set(k, (r = { tool, kind, runsStopped: 0, callsRefused: 0 }));
    return r;
  };
  let calls = 0;
  let stopped = 0;
  let callsRefused = 0;
  const labels = { bad: { stopped: 0, passed: 0 }, good: { stopped: 0, passed: 0 }, unlabelled: 0 };
  for (const run of runs) {
    calls += run.recorded;
    const stop = run.stoppedAt !== undefined ? run.calls[run.stoppedAt] : undefined;
    if (stop) {
      stopped++;
      entry(stop.tool, stop.kind!).runsStopped++;
    }
    for (const c of run.judged)
      if (c.refused) {
        callsRefused++;
        entry(c.tool, c.kind!).callsRefused++;
      }
    if (run.label) labels[run.label][stop ? "stopped" : "passed"]++;
    else labels.unlabelled++;
  }
  const ranked = [...refusals.values()].sort((a, b) => b.runsStopped - a.runsStopped || b.callsRefused - a.callsRefused || a.tool.localeCompare(b.tool));
  return {
    runs: runs.length,
    calls,
    skipped: skipped.length,
    stopped,
    callsRefused,
    refusals: ranked,
    ...(labels.unlabelled < runs.length ? { labels } : {}),
  };
}

/** How many stopped runs and skipped inputs the text lists before pointing at --json. */
const LISTED = 20;

export function renderReport(report: ReplayReport): string {
  const s = report.summary;
  const out = [
    `Replayed ${s.runs} runs (${s.calls} calls)${s.skipped ? `; skipped ${s.skipped} (listed below)` : ""}.`,
    `Enforcing, Bulwark would have stopped ${s.stopped} of ${s.runs} runs; judged on its own, ${s.callsRefused} of ${s.calls} calls would have been refused.`,
  ];
  if (s.refusals.length > 0) {
    out.push("", table(["tool", "kind", "runs stopped", "calls refused"], s.refusals.map((r) => [r.tool, r.kind, String(r.runsStopped), String(r.callsRefused)])));
  }
  if (s.labels) {
    const { bad, good, unlabelled } = s.labels;
    out.push(
      "",
      table(
        ["labelled", "stopped", "passed"],
        [
          [`bad runs (${bad.stopped + bad.passed})`, `${bad.stopped} caught`, `${bad.passed} missed`],
          [`good runs (${good.stopped + good.passed})`, `${good.stopped} false halts`, `${good.passed} passed`],
        ],
      ),
    );
    if (unlabelled) out.push(`(${unlabelled} runs have no label)`);
  }
  // False halts first: a good run stopped is what a team must see before deploying.
  const stopped = report.runs.filter((r) => r.stoppedAt !== undefined).sort((a, b) => Number(b.label === "good") - Number(a.label === "good"));
  if (stopped.length > 0) {
    out.push("", "Stopped runs:");
    for (const r of stopped.slice(0, LISTED)) {
      const c = r.calls[r.stoppedAt!]!;
      out.push(`  ${r.runId} (${r.where}${r.label ? `, ${r.label}` : ""}): call ${r.stoppedAt! + 1} of ${r.recorded}, ${c.tool}: ${c.kind}: ${c.message}`);
    }
    if (stopped.length > LISTED) out.push(`  … and ${stopped.length - LISTED} more (--json lists every run)`);
  }
  if (report.skipped.length > 0) {
    out.push("", "Skipped:");
    for (const p of report.skipped.slice(0, LISTED)) out.push(`  ${p.where}: ${p.message}`);
    if (report.skipped.length > LISTED) out.push(`  … and ${report.skipped.length - LISTED} more (--json lists them all)`);
  }
  return out.join("\n");
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
