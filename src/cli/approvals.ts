/**
 * `bulwark approvals`: the approval queue on the store, for a person at a terminal.
 * `list` (the default) shows requests; `approve <id>` and `deny <id> --reason …` decide
 * one and record who did. Deciding the same way twice is a no-op; the opposite way, an error.
 */
import { Command } from "commander";
import type { ApprovalRequest } from "../index.js";
import { DEFAULT_STORE, fail, who, withRuntime } from "./shared.js";

function show(a: ApprovalRequest): string {
  const decided = a.status === "pending" ? "" : `  ${a.status} by ${a.by ?? "?"}${a.reason ? ` (${a.reason})` : ""}`;
  return `${a.id}  ${a.status.padEnd(8)}  run ${a.runId}  ${a.tool} ${JSON.stringify(a.args)}${decided}`;
}

export function approvalsCommand(): Command {
  const cmd = new Command("approvals").description("list, approve or deny tool calls waiting for a person").option("--store <url>", "the store", DEFAULT_STORE);

  cmd
    .command("list", { isDefault: true })
    .description("show approval requests (all, or by status or run)")
    .option("--status <status>", "pending, approved or denied")
    .option("--run <runId>", "only this run's requests")
    .option("--json", "print JSON")
    .action(async function (this: Command, o: { status?: ApprovalRequest["status"]; run?: string; json?: boolean }) {
      try {
        const list = await withRuntime(cmd.opts().store, (rt) => rt.approvals.list({ ...(o.status ? { status: o.status } : {}), ...(o.run ? { runId: o.run } : {}) }));
        if (o.json) console.log(JSON.stringify(list, null, 2));
        else console.log(list.length === 0 ? "no approval requests" : list.map(show).join("\n"));
      } catch (e) {
        fail(this, e);
      }
    });

  cmd
    .command("approve <id>")
    .description("approve a request: the same call, repeated by the agent, then runs once")
    .option("--by <name>", "who approves [$BULWARK_USER, or your login name]")
    .action(async function (this: Command, id: string, o: { by?: string }) {
      try {
        const by = who(o.by);
        const a = await withRuntime(cmd.opts().store, (rt) => rt.approvals.approve(id, { by }));
        console.log(show(a));
      } catch (e) {
        fail(this, e);
      }
    });

  cmd
    .command("deny <id>")
    .description("deny a request: the call never runs")
    .requiredOption("--reason <text>", "why (told to the agent)")
    .option("--by <name>", "who denies [$BULWARK_USER, or your login name]")
    .action(async function (this: Command, id: string, o: { by?: string; reason: string }) {
      try {
        const by = who(o.by);
        const a = await withRuntime(cmd.opts().store, (rt) => rt.approvals.deny(id, { by, reason: o.reason }));
        console.log(show(a));
      } catch (e) {
        fail(this, e);
      }
    });
  return cmd;
}
