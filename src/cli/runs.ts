/**
 * `bulwark runs`: the runs in the store, newest first, live (steps, destructive actions
 * used and in flight, mode and why), for a person at a terminal; `--json` prints
 * `{ runs: RunSummary[] }`. `runs review <runId>` records that a person reviewed the
 * changes a run made, which renews its destructive budget: a run reading only because its
 * budget was spent may make changes again. `runs show <runId>` prints the run's timeline:
 * every call from the store's call journal (`--json`: `{ summary, calls, journal }`).
 */
import { Command } from "commander";
import { redactText, summarizeRun, type CallSummary, type JournaledCall, type RunStatus, type RunSummary, type Runtime } from "../index.js";
import { DEFAULT_STORE, fail, who, whole, withRuntime } from "./shared.js";

const STATUSES: readonly RunStatus[] = ["running", "ended"];

function show(s: RunSummary): string {
  const d = s.destructive;
  const destructive = `destructive ${d.used}${d.max !== undefined ? `/${d.max}` : ""}${d.inFlight > 0 ? ` (+${d.inFlight} in flight)` : ""}`;
  const stop = s.stopRequested ? `  (stop asked: ${s.stopRequested.reason})` : "";
  return [s.runId, s.agent, s.status.padEnd(7), s.mode.padEnd(10), `steps ${s.steps}`, destructive, `confidence ${s.confidence.toFixed(2)}`, s.reason ?? ""].join("  ").trimEnd() + stop;
}

/** What a review did, said plainly: what was renewed, and what a review does not lift. */
function reviewed(before: RunSummary, after: RunSummary, by: string): string {
  const lines = [`reviewed by ${by}: the destructive budget of run ${after.runId} is renewed (${before.destructive.used} used before the review)`];
  if (before.mode !== after.mode) lines.push(`mode ${before.mode} -> ${after.mode}: it may make changes again`);
  else if (after.mode !== "normal") lines.push(`still ${after.mode}${after.reason ? `: ${after.reason}` : ""} (a review lifts only a spent budget)`);
  lines.push(show(after));
  return lines.join("\n");
}

/** One call of a timeline on one line: when, tool, outcome, where and why refused, latency, attempts, confidence. */
function showCall(c: JournaledCall): string {
  const outcome = c.ok ? (c.replayed ? "replayed" : "ok") : c.failure!.kind;
  const refused = c.failure ? `  ${c.failure.stage ?? "?"}: ${c.failure.message}` : "";
  return [new Date(c.at).toISOString(), c.tool.padEnd(16), outcome.padEnd(22), `${Math.round(c.latencyMs)} ms`.padStart(8), `×${c.attempts}`, `confidence ${c.confidence.toFixed(2)}`].join("  ") + refused;
}

/** Every call of a run from the journal (all pages), or the last ones its record keeps when the store has no journal. */
async function allCalls(rt: Runtime, runId: string, history: unknown): Promise<{ journal: boolean; calls: (JournaledCall | CallSummary)[] }> {
  const journal = rt.store.callJournal;
  if (!journal) return { journal: false, calls: (history as { calls?: CallSummary[] } | undefined)?.calls ?? [] };
  const calls: JournaledCall[] = [];
  for (let after: number | undefined; ; ) {
    const page = await journal.list(runId, after === undefined ? {} : { after });
    calls.push(...page.calls);
    if ((after = page.next) === undefined) return { journal: true, calls };
  }
}

export function runsCommand(): Command {
  const cmd = new Command("runs").description("list runs with their live steps, destructive budget and mode; review a run's changes").option("--store <url>", "the store", DEFAULT_STORE);

  cmd
    .command("list", { isDefault: true })
    .description("show the runs, newest first")
    .option("--status <status>", "running or ended")
    .option("--limit <n>", "at most this many [100]", whole)
    .option("--json", "print JSON: { runs: [...] }")
    .action(async function (this: Command, o: { status?: string; limit?: number; json?: boolean }) {
      try {
        if (o.status !== undefined && !STATUSES.includes(o.status as RunStatus)) throw new Error(`--status must be one of ${STATUSES.join(", ")}, not ${JSON.stringify(o.status)}`);
        const status = o.status as RunStatus | undefined;
        const runs = await withRuntime(cmd.opts().store, (rt) => rt.store.runs.list({ ...(status ? { status } : {}), limit: o.limit ?? 100 }));
        const now = Date.now();
        const summaries = runs.map((r) => summarizeRun(r, { now }));
        if (o.json) console.log(JSON.stringify({ runs: summaries }, null, 2));
        else console.log(summaries.length === 0 ? "no runs" : summaries.map(show).join("\n"));
      } catch (e) {
        fail(this, e);
      }
    });

  cmd
    .command("show <runId>")
    .description("print the run's timeline: every call, its outcome, the stage that refused it and why, latency, confidence")
    .option("--json", "print JSON: { summary, journal, calls: [...] }")
    .action(async function (this: Command, runId: string, o: { json?: boolean }) {
      try {
        const store: string = cmd.opts().store;
        const out = await withRuntime(store, async (rt) => {
          const stored = await rt.store.runs.get(runId);
          if (!stored) throw new Error(`no run ${JSON.stringify(runId)} in the store ${redactText(store)}; check the id (bulwark runs lists them), and --store if the agent used another store`);
          return { summary: summarizeRun(stored, { now: Date.now() }), ...(await allCalls(rt, runId, stored.history)) };
        });
        if (o.json) return console.log(JSON.stringify(out, null, 2));
        const lines = [show(out.summary), `${out.calls.length} calls${out.journal ? "" : " (the last ones the run's record keeps: this store has no call journal)"}`];
        lines.push(...out.calls.map((c) => ("latencyMs" in c ? showCall(c) : `${new Date(c.at).toISOString()}  ${c.tool.padEnd(16)}  ${c.ok ? "ok" : (c.kind ?? "failed")}`)));
        console.log(lines.join("\n"));
      } catch (e) {
        fail(this, e);
      }
    });

  cmd
    .command("review <runId>")
    .description("record that you reviewed the run's changes: its destructive budget is renewed")
    .option("--by <name>", "who reviewed [$BULWARK_USER, else your login name]")
    .option("--note <text>", "what was checked (kept with the review)")
    .action(async function (this: Command, runId: string, o: { by?: string; note?: string }) {
      try {
        const by = who(o.by);
        if (o.note !== undefined && o.note.trim() === "") throw new Error("--note is empty: say what was checked, or leave it out");
        const store: string = cmd.opts().store;
        const out = await withRuntime(store, async (rt) => {
          const stored = await rt.store.runs.get(runId);
          if (!stored) throw new Error(`no run ${JSON.stringify(runId)} in the store ${redactText(store)}; check the id (bulwark runs lists them), and --store if the agent used another store`);
          const after = await rt.reviewRun(runId, { by, ...(o.note !== undefined ? { note: o.note.trim() } : {}) });
          const now = Date.now();
          return reviewed(summarizeRun(stored, { now }), summarizeRun(after, { now }), by);
        });
        console.log(out);
      } catch (e) {
        fail(this, e);
      }
    });
  return cmd;
}
