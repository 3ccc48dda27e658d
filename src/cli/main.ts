#!/usr/bin/env node
/**
 * The `bulwark` command. One file per command in this folder; each uses only the public
 * API (`bulwark` and `bulwark/chaos`), as a user's program would.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { chaosCommand } from "./chaos.js";
import { demoCommand } from "./demo.js";
import { alertsCommand } from "./alerts.js";
import { approvalsCommand } from "./approvals.js";
import { rollbackCommand } from "./rollback.js";
import { runsCommand } from "./runs.js";
import { benchCommand } from "./bench.js";
import { serveCommand } from "./serve.js";
import { replayCommand } from "./replay.js";
import { MissingPackageError } from "../index.js";
import { shadowCommand } from "./shadow.js";

// The package's own package.json: two folders up from src/cli/ and from dist/cli/ alike.
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("bulwark")
  .description("A reliability runtime for AI agents: guarded tool calls, chaos tests and a demo.")
  .version(version, "-v, --version", "print the version")
  .showHelpAfterError();

program.addCommand(demoCommand());
program.addCommand(chaosCommand());
program.addCommand(approvalsCommand());
program.addCommand(alertsCommand());
program.addCommand(rollbackCommand());
program.addCommand(runsCommand());
program.addCommand(benchCommand());
program.addCommand(serveCommand());
program.addCommand(replayCommand());
program.addCommand(
  await optionalCommand("proxy", "guard an MCP server's tools", ["@modelcontextprotocol/sdk", "yaml", "zod"], async () => (await import("./proxy.js")).proxyCommand()),
);
program.addCommand(shadowCommand());

await program.parseAsync(process.argv);

/**
 * A command whose module needs optional peers (the proxy: the MCP SDK, yaml, zod). Loaded
 * at start so that its help and options are the real ones; when a peer is missing, the
 * command is still listed and says what to install, and every other command works.
 */
async function optionalCommand(name: string, description: string, needs: string[], load: () => Promise<Command>): Promise<Command> {
  try {
    return await load();
  } catch (e) {
    const missing = e instanceof MissingPackageError ? e.packageName : /Cannot find (?:package|module) '([^']+)'/.exec(String((e as Error)?.message))?.[1];
    if (!missing || !needs.some((pkg) => missing === pkg || missing.startsWith(`${pkg}/`))) throw e;
    const install = `npm install ${needs.join(" ")}`;
    return new Command(name)
      .description(`${description} (not installed: ${install})`)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        process.stderr.write(`bulwark ${name} needs packages that are not installed (${missing} is missing): ${install}\n`);
        process.exitCode = 1;
      });
  }
}
