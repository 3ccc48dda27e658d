/**
 * `bulwark chaos`: replay the incident scenarios with injected faults, bare and through
 * Bulwark, and report incidents, false halts, tasks done and added latency. Exits
 * non-zero when Bulwark lets an incident through (or a scenario finds none bare).
 */
import { Command, InvalidArgumentError } from "commander";
import cliProgress from "cli-progress";
import { runSuite, scenarios, type Scenario, type SuiteReport } from "../chaos/index.js";
import { fail, whole } from "./shared.js";

interface ChaosFlags {
  runs: number;
  seed: number;
  json?: boolean;
  scenario?: string[];
  store?: string;
}

export function chaosCommand(): Command {
  return new Command("chaos")
    .description("replay incident scenarios with injected faults, bare and through Bulwark")
    .option("--runs <n>", "seeded runs per scenario", whole, 100)
    .option("--seed <s>", "seed of the suite (the same seed replays the same runs)", whole, 1)
    .option("--scenario <name...>", "only these scenarios")
    .option("--store <spec>", 'store of the guarded runs ("memory" or "sqlite:<path>")')
    .option("--json", "print one JSON object on stdout and nothing else")
    .action(async function (this: Command, flags: ChaosFlags) {
      let chosen: readonly Scenario[];
      try {
        chosen = pick(flags.scenario);
      } catch (e) {
        fail(this, e);
      }
      const report = await chaos(chosen, flags);
      process.exitCode = report.passed && report.scenarios.every((s) => s.baseline.incidents > 0) ? 0 : 1;
    });
}

async function chaos(chosen: readonly Scenario[], flags: ChaosFlags): Promise<SuiteReport> {
  const bar =
    process.stderr.isTTY && !flags.json
      ? new cliProgress.SingleBar(
          { format: " {bar} {percentage}% | {scenario} | {value}/{total} runs", stream: process.stderr, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(chosen.length * flags.runs, 0, { scenario: chosen[0]?.name ?? "" });
  let before = 0;
  const report = await runSuite(chosen, {
    runs: flags.runs,
    seed: flags.seed,
    ...(flags.store ? { store: flags.store } : {}),
    onProgress: (scenario, done, of) => {
      bar?.update(before + done, { scenario });
      if (done === of) before += of;
    },
  });
  bar?.stop();
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(`${table(report)}\n`);
  return report;
}

const sum = (report: SuiteReport, of: (s: SuiteReport["scenarios"][number]) => number) => report.scenarios.reduce((n, s) => n + of(s), 0);

function pick(names: string[] | undefined): readonly Scenario[] {
  if (!names || names.length === 0) return scenarios;
  return names.map((n) => {
    const s = scenarios.find((x) => x.name === n);
    if (!s) throw new InvalidArgumentError(`unknown scenario ${JSON.stringify(n)}; known: ${scenarios.map((x) => x.name).join(", ")}`);
    return s;
  });
}

/**
 * The report as a table. Incidents are counted per run (a run that charged a card three
 * times is one run with an incident), with the incidents in all beside them. A negative
 * added latency means the bare calls varied more than Bulwark added: it is shown as ≈0,
 * not as Bulwark making calls faster (the JSON report keeps the measured figure).
 */
export function table(report: SuiteReport): string {
  const head = ["scenario", "runs", "runs with incident bare", "Bulwark", "false halts", "done bare", "done Bulwark", "added ms/call"];
  const rows = report.scenarios.map((s) => [
    s.name,
    String(s.runs),
    `${s.baseline.runsWithIncident} (${s.baseline.incidents} incident${s.baseline.incidents === 1 ? "" : "s"})`,
    String(s.bulwark.runsWithIncident + s.bulwark.healthyRunsWithIncident),
    `${s.bulwark.falseHalts} (${(100 * s.bulwark.falseHaltRate).toFixed(1)}%)`,
    String(s.baseline.completed),
    String(s.bulwark.completed),
    s.bulwark.addedLatencyMsPerCall > 0 ? s.bulwark.addedLatencyMsPerCall.toFixed(3) : "≈0",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const t = report.totals;
  return [
    line(head),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
    "",
    `Seed ${report.seed}, ${report.runs} runs per scenario, each played with the fault and as a healthy twin, bare and through Bulwark.`,
    `Runs with an incident: ${sum(report, (s) => s.baseline.runsWithIncident)} bare (${t.incidentsBare} incidents in all), ${sum(report, (s) => s.bulwark.runsWithIncident + s.bulwark.healthyRunsWithIncident)} through Bulwark (${t.incidentsBulwark} incidents). False halts: ${t.falseHalts} of ${t.healthyTwins} healthy twins.`,
    "A run counts once however many incidents it had (a card charged three times is one run). ≈0 ms/call: less than this pass can measure.",
    report.passed ? "Bulwark let no incident through." : `Bulwark let incidents through: see scenarios with escaped seeds (--json).`,
  ].join("\n");
}
