/**
 * `bulwark proxy --policy <file> -- <mcp server command…>`: an MCP server on stdio in front
 * of another. It runs the real server as a child, lists its tools (annotations and schemas
 * as they are) and sends every `tools/call` through one Bulwark run per proxy session, so
 * any MCP client gets retries with keys, breakers, freezes, budgets, approvals and the
 * chain breaker. A refused or failed call comes back as a tool result with `isError: true`
 * and the failure's message as its text; the child dying answers the call, it never hangs.
 * The proxy itself is `mcpProxy` of `bulwark/mcp`; this is its command line.
 */
import { Command } from "commander";
import { mcpProxy } from "../adapters/mcp.js";
import { loadProxyPolicy, type ProxyPolicy } from "./proxy-policy.js";
import { fail } from "./shared.js";

export function proxyCommand(): Command {
  return new Command("proxy")
    .description("serve an MCP server's tools on stdio, every call guarded by a Bulwark run (put the server's command after --)")
    .requiredOption("--policy <file>", "policy file, YAML or JSON: store, run policy, per-tool overrides")
    .argument("<command...>", "the MCP server to start, e.g. -- npx -y @modelcontextprotocol/server-memory")
    .action(async function (this: Command, command: string[], o: { policy: string }) {
      let policy: ProxyPolicy;
      try {
        policy = loadProxyPolicy(o.policy);
      } catch (e) {
        fail(this, e, 2);
      }
      try {
        await mcpProxy({
          command,
          store: policy.store,
          policy: policy.run,
          tools: policy.tools,
          ...(policy.prefix !== undefined ? { prefix: policy.prefix } : {}),
          ...(policy.agent !== undefined ? { agent: policy.agent } : {}),
          ...(policy.runId !== undefined ? { runId: policy.runId } : {}),
          source: `policy file ${policy.file}`,
        });
      } catch (e) {
        fail(this, e, 1);
      }
    });
}
