/**
 * `bulwark shadow`: what shadow mode (`enforce: false`) would have refused, summed per
 * tool and kind, with the newest examples: how many calls and runs a guard would have
 * stopped, before anyone turns it on.
 */
import { Command, InvalidArgumentError } from "commander";
import { readInstant, summarizeShadow, type ShadowSum } from "../index.js";
import { DEFAULT_STORE, fail, whole, withRuntime } from "./shared.js";

interface ShadowFlags {
  since?: number;
  store: string;
  json?: boolean;
  examples: number;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a time ago (30m, 24h, 7d) or a moment (ISO 8601 with a zone, or epoch ms). */
export function since(v: string, now = Date.now()): number {
  const ago = /^(\d+(?:\.\d+)?)([smhd])$/.exec(v.trim());
  if (ago) return now - Number(ago[1]) * UNITS[ago[2]!]!;
  const r = readInstant(/^\d+$/.test(v.trim()) ? Number(v) : v);
  if ("problem" in r) throw new InvalidArgumentError(`${r.problem}; or a time ago such as 30m, 24h, 7d`);
  return r.ms;
}

export function shadowCommand(): Command {
  return new Command("shadow")
    .description("what shadow mode would have refused, per tool and kind, with examples")
    .option("--since <when>", "only decisions since then: a time ago (30m, 24h, 7d) or a time (2026-07-18T12:00:00Z)", (v) => since(v))
    .option("--store <url>", "the store the agents use", DEFAULT_STORE)
    .option("--examples <n>", "examples per tool and kind", whole, 3)
    .option("--json", "print one JSON object")
    .action(async function (this: Command, o: ShadowFlags) {
      let sums: ShadowSum[];
      let total: number;
      try {
        const decisions = await withRuntime(o.store, (rt) => rt.store.shadow.list(o.since !== undefined ? { since: o.since } : {}));
        total = decisions.length;
        sums = summarizeShadow(decisions, o.examples);
      } catch (e) {
        fail(this, e);
      }
      const window = o.since !== undefined ? { since: new Date(o.since).toISOString() } : {};
      console.log(o.json ? JSON.stringify({ ...window, total, sums }) : describe(sums, total, window.since));
    });
}

function describe(sums: ShadowSum[], total: number, from: string | undefined): string {
  const when = from ? ` since ${from}` : "";
  if (total === 0) return `Shadow mode recorded no refusals${when}.`;
  const lines = [`Shadow mode would have refused ${sums.reduce((n, s) => n + s.calls, 0)} calls${when}:`, ""];
  for (const s of sums) {
    lines.push(`${s.tool}: ${s.kind} (${s.stages.join(", ")}): ${s.calls} calls in ${s.runs} runs`);
    for (const e of s.examples) lines.push(`    e.g. run ${e.runId} at ${new Date(e.at).toISOString()}, ${JSON.stringify(e.args)}: ${e.message}`);
  }
  return lines.join("\n");
}
