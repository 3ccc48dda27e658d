/**
 * `bulwark rollback <runId>`: undo a run's recorded changes, newest first, each at most
 * once. Compensations are functions on the agent's tools, so `--tools <module>` names a
 * module that exports them (named exports, or a default array); without it, nothing is
 * run and the report lists what would need undoing. Calls of the run still in flight after
 * `--wait-ms` are listed as not undone. Exits 1 unless everything is undone.
 */
import { Command } from "commander";
import { redactText, type RollbackReport } from "../index.js";
import { findRun } from "../server/api.js";
import { DEFAULT_STORE, fail, loadTools, withRuntime } from "./shared.js";

function describeReport(r: RollbackReport): string {
  const lines = [r.summary];
  for (const s of r.steps)
    lines.push(`  #${s.seq} ${s.tool} ${JSON.stringify(s.args)}: ${s.status}${s.error ? ` (${s.error})` : ""}${s.checkpoint !== undefined ? `  checkpoint ${JSON.stringify(s.checkpoint)}` : ""}`);
  for (const c of r.inFlight) lines.push(`  ${c.tool} call ${c.callId} (key ${c.key}): ${c.state.replace("_", " ")}, NOT undone: its change may stand`);
  return lines.join("\n");
}

export function rollbackCommand(): Command {
  return new Command("rollback")
    .description("undo a run's recorded changes through its tools' compensations, newest first")
    .argument("<runId>", "the run to roll back")
    .option("--tools <module>", "a module exporting the agent's tools (their compensations undo the changes)")
    .option("--store <url>", "the store", DEFAULT_STORE)
    .option("--json", "print the report as JSON")
    .option("--wait-ms <ms>", "how long to wait for the run's calls in flight to settle before undoing [30000]")
    .action(async function (this: Command, runId: string, o: { tools?: string; store: string; json?: boolean; waitMs?: string }) {
      const waitMs = o.waitMs === undefined ? undefined : Number(o.waitMs);
      if (waitMs !== undefined && !(Number.isInteger(waitMs) && waitMs >= 0)) fail(this, new Error("--wait-ms must be a whole number of milliseconds, 0 or more"));
      let report: RollbackReport;
      try {
        report = await withRuntime(o.store, async (rt) => {
          // A mistyped id must not read as "nothing to undo", nor leave a stop request behind.
          if (!(await findRun(rt, runId)))
            throw new Error(`no run ${JSON.stringify(runId)} in the store ${redactText(o.store)}; check the id, and --store if the agent used another store`);
          const tools = o.tools ? await loadTools(o.tools) : [];
          return rt.rollback(runId, tools, waitMs === undefined ? {} : { waitMs });
        });
      } catch (e) {
        fail(this, e);
      }
      console.log(o.json ? JSON.stringify(report, null, 2) : describeReport(report));
      if (!o.tools && report.notUndone.length > 0) console.error("(no --tools given: compensations are functions on the agent's tools; name the module that exports them)");
      if (!report.complete) process.exitCode = 1;
    });
}
