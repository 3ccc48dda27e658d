#!/usr/bin/env node
/**
 * The `bulwark` command. One file per command in this folder; each uses only the public
 * API (`bulwark` and `bulwark/chaos`), as a user's program would.
 */
import { Command } from "commander";
import { chaosCommand } from "./chaos.js";
import { demoCommand } from "./demo.js";
import { approvalsCommand } from "./approvals.js";
import { rollbackCommand } from "./rollback.js";
import { benchCommand } from "./bench.js";
import { serveCommand } from "./serve.js";
import { proxyCommand } from "./proxy.js";
import { replayCommand } from "./replay.js";

const program = new Command("bulwark")
  .description("A reliability runtime for AI agents: guarded tool calls, chaos tests and a demo.")
  .showHelpAfterError();

program.addCommand(demoCommand());
program.addCommand(chaosCommand());
program.addCommand(approvalsCommand());
program.addCommand(rollbackCommand());
program.addCommand(benchCommand());
program.addCommand(serveCommand());
program.addCommand(proxyCommand());
program.addCommand(replayCommand());

await program.parseAsync(process.argv);
