/**
 * `bulwark rollback <runId>`: undo a run's recorded changes, newest first, each at most
 * once. Compensations are functions on the agent's tools, so `--tools <module>` names a
 * module that exports them (named exports, or a default array); without it, nothing is
 * run and the report lists what would need undoing. Exits 1 unless everything is undone.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { createRuntime, type RollbackReport, type Tool } from "../index.js";
import { DEFAULT_STORE } from "./approvals.js";

/** The tools a module exports (named, or as a default array or object). */
export async function loadTools(path: string): Promise<Tool[]> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const found: Tool[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isTool(v)) found.push(v);
    else if (v && typeof v === "object" && v === mod.default) Object.values(v).forEach(visit);
  };
  Object.values(mod).forEach(visit);
  if (found.length === 0) throw new Error(`${path} exports no tools made by defineTool`);
  return [...new Set(found)];
}

function isTool(v: unknown): v is Tool {
  return typeof v === "object" && v !== null && typeof (v as Tool).name === "string" && typeof (v as Tool).spec?.execute === "function";
}

export function describeReport(r: RollbackReport): string {
  const lines = [r.summary];
  for (const s of r.steps)
    lines.push(`  #${s.seq} ${s.tool} ${JSON.stringify(s.args)}: ${s.status}${s.error ? ` (${s.error})` : ""}${s.checkpoint !== undefined ? `  checkpoint ${JSON.stringify(s.checkpoint)}` : ""}`);
  return lines.join("\n");
}

export function rollbackCommand(): Command {
  return new Command("rollback")
    .description("undo a run's recorded changes through its tools' compensations, newest first")
    .argument("<runId>", "the run to roll back")
    .option("--tools <module>", "a module exporting the agent's tools (their compensations undo the changes)")
    .option("--store <url>", "the store", DEFAULT_STORE)
    .option("--json", "print the report as JSON")
    .action(async function (this: Command, runId: string, o: { tools?: string; store: string; json?: boolean }) {
      let report: RollbackReport;
      const rt = createRuntime({ store: o.store });
      try {
        await rt.ready();
        // A mistyped id must not read as "nothing to undo", nor leave a stop request behind.
        if (!(await rt.store.runs.get(runId)) && (await rt.store.mutations.list(runId)).length === 0)
          throw new Error(`no run ${JSON.stringify(runId)} in the store ${o.store}; check the id, and --store if the agent used another store`);
        const tools = o.tools ? await loadTools(o.tools) : [];
        report = await rt.rollback(runId, tools);
      } catch (e) {
        await rt.close().catch(() => {});
        return this.error(`error: ${e instanceof Error ? e.message : String(e)}`, { exitCode: 1 });
      }
      await rt.close();
      console.log(o.json ? JSON.stringify(report, null, 2) : describeReport(report));
      if (!o.tools && report.notUndone.length > 0) console.error("(no --tools given: compensations are functions on the agent's tools; name the module that exports them)");
      if (!report.complete) process.exitCode = 1;
    });
}
