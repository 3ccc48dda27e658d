/**
 * `bulwark alerts`: the alerts on the store, newest first (firing and acknowledged ones by
 * default; `--all` adds the resolved), and `alerts ack <id>` to record that a person has
 * seen one. `--json` prints the records.
 */
import { Command } from "commander";
import type { AlertRecord, AlertState } from "../index.js";
import { DEFAULT_STORE, fail, who, withRuntime } from "./shared.js";

const STATES: readonly AlertState[] = ["firing", "acknowledged", "resolved"];

function show(a: AlertRecord): string {
  const when = new Date(a.lastAt).toISOString();
  const times = a.count > 1 ? ` ×${a.count}` : "";
  const ack = a.acknowledgedBy ? ` (acknowledged by ${a.acknowledgedBy})` : "";
  return `${a.id}  ${a.state.padEnd(12)}  ${a.severity.padEnd(8)}  ${when}  ${a.kind}: ${a.summary}${times}${ack}`;
}

export function alertsCommand(): Command {
  const cmd = new Command("alerts")
    .description("list alerts (breakers opened, runs halted or handed off, drift, failure spikes); ack one")
    .option("--store <url>", "the store", DEFAULT_STORE)
    .option("--state <state>", "firing, acknowledged or resolved")
    .option("--all", "include resolved alerts")
    .option("--limit <n>", "at most this many", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error("--limit: expected a whole number of at least 1");
      return n;
    })
    .option("--json", "print JSON")
    .action(async function (this: Command, o: { store: string; state?: string; all?: boolean; limit?: number; json?: boolean }) {
      try {
        if (o.state !== undefined && !STATES.includes(o.state as AlertState)) throw new Error(`--state must be one of ${STATES.join(", ")}, not "${o.state}"`);
        const list = await withRuntime(o.store, (rt) => rt.alerts.list({ ...(o.state ? { state: o.state as AlertState } : {}), ...(o.limit ? { limit: o.limit } : {}) }));
        const shown = o.state || o.all ? list : list.filter((a) => a.state !== "resolved");
        if (o.json) console.log(JSON.stringify({ alerts: shown }, null, 2));
        else console.log(shown.length === 0 ? "no alerts" : shown.map(show).join("\n"));
      } catch (e) {
        fail(this, e);
      }
    });

  cmd
    .command("ack <id>")
    .description("acknowledge an alert: a person is on it (recorded with who)")
    .option("--by <name>", "who acknowledges [$BULWARK_USER, else your login name]")
    .action(async function (this: Command, id: string, o: { by?: string }) {
      try {
        const a = await withRuntime(cmd.opts().store, (rt) => rt.alerts.acknowledge(id, who(o.by)));
        if (!a) throw new Error(`no alert with id ${id}`);
        console.log(show(a));
      } catch (e) {
        fail(this, e);
      }
    });
  return cmd;
}
