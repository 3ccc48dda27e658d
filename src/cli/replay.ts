/**
 * `bulwark replay <file> --tools <module>`: run recorded conversations through the
 * runtime with each tool's result replayed from the file, and report what the policy
 * would have allowed or refused, per run and per call. Bad input is reported and
 * skipped; the command still exits 0 (it judges the policy, not the file).
 */
import { Command } from "commander";
import cliProgress from "cli-progress";
import { replay, type PolicyInput, type ReplayReport } from "../index.js";
import { readRecording } from "../replay/formats/index.js";
import { renderReport } from "../replay/report.js";
import { loadPolicyFile } from "./policy-file.js";
import { fail, loadTools } from "./shared.js";

interface ReplayFlags {
  tools: string;
  policy?: string;
  json?: boolean;
}

export function replayCommand(): Command {
  return new Command("replay")
    .description("replay recorded conversations through Bulwark: which calls would have been refused, and why")
    .argument("<file>", "the recording: JSONL (one run per line { runId, agent, calls: [{ tool, args, result | error }] }), OTLP JSON traces, or AI SDK steps")
    .requiredOption("--tools <module>", "a module exporting the agent's tools (named exports or a default array)")
    .option("--policy <file>", "a policy file (YAML or JSON, as bulwark proxy reads): its run policy is the one judged")
    .option("--json", "print one JSON object on stdout and nothing else")
    .action(async function (this: Command, file: string, flags: ReplayFlags) {
      let report: ReplayReport;
      try {
        const policy: PolicyInput | undefined = flags.policy ? (await loadPolicyFile(flags.policy)).run : undefined;
        const [tools, recording] = await Promise.all([loadTools(flags.tools), readRecording(file)]);
        const bar = process.stderr.isTTY && !flags.json ? progressBar(recording.runs.length) : undefined;
        try {
          report = await replay(recording, { tools, ...(policy ? { policy } : {}), ...(bar ? { onProgress: (done) => bar.update(done) } : {}) });
        } finally {
          bar?.stop();
        }
      } catch (e) {
        fail(this, e);
      }
      process.stdout.write(`${flags.json ? JSON.stringify(report) : renderReport(report)}\n`);
    });
}

function progressBar(total: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    { format: " {bar} {percentage}% | {value}/{total} runs | {eta_formatted} left", stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}
