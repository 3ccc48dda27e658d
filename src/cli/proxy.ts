/**
 * `bulwark proxy --policy <file> -- <mcp server command…>`: an MCP server on stdio in front
 * of another. It runs the real server as a child, lists its tools (annotations and schemas
 * as they are) and sends every `tools/call` through one Bulwark run per proxy session, so
 * any MCP client gets retries with keys, breakers, freezes, budgets, approvals and the
 * chain breaker. A refused or failed call comes back as a tool result with `isError: true`
 * and the failure's message as its text; the child dying answers the call, it never hangs.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema, ToolListChangedNotificationSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createRuntime, type Run, type Runtime } from "../index.js";
import { mcpTools, type McpToolset } from "../adapters/mcp.js";
import { loadProxyPolicy, type ProxyPolicy } from "./proxy-policy.js";

/** The `_meta` key of a failed call's result: `{ kind, retryable, callId }` for programs. */
export const FAILURE_META_KEY = "bulwark/failure";

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
})();

const log = (line: string) => process.stderr.write(`bulwark proxy: ${line}\n`);

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
        this.error(`error: ${e instanceof Error ? e.message : String(e)}`, { exitCode: 2 });
      }
      try {
        await proxy(policy, command);
      } catch (e) {
        this.error(`error: ${e instanceof Error ? e.message : String(e)}`, { exitCode: 1 });
      }
    });
}

async function proxy(policy: ProxyPolicy, [command, ...args]: string[]): Promise<void> {
  if (!command) throw new Error("give the MCP server's command after --");
  let rt: Runtime;
  try {
    rt = createRuntime({ store: policy.store, policy: policy.run, onError: (e) => log(`store: ${e instanceof Error ? e.message : String(e)}`) });
    await rt.ready();
  } catch (e) {
    throw new Error(`policy file ${policy.file}: ${e instanceof Error ? e.message : String(e)}`);
  }

  // The child: its stderr is ours (stdout carries the protocol); it gets our environment.
  const env = Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  const upstream = new Client({ name: "bulwark-proxy", version: VERSION });
  const serverName = [command, ...args].join(" ");
  try {
    await upstream.connect(new StdioClientTransport({ command, args, env, stderr: "inherit" }));
  } catch (e) {
    await rt.close();
    throw new Error(`could not start the MCP server \`${serverName}\`: ${e instanceof Error ? e.message : String(e)}`);
  }
  let shuttingDown = false;
  upstream.onclose = () => {
    if (shuttingDown) return;
    log(`the MCP server \`${serverName}\` has exited; calls now fail until the proxy is restarted`);
  };

  const guard = async (): Promise<McpToolset> => {
    try {
      return await mcpTools(upstream, { tools: policy.tools, ...(policy.prefix !== undefined ? { prefix: policy.prefix } : {}) });
    } catch (e) {
      throw new Error(`policy file ${policy.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  let toolset: McpToolset;
  try {
    toolset = await guard();
  } catch (e) {
    await upstream.close().catch(() => {});
    await rt.close();
    throw e;
  }

  const server = new Server(
    { name: "bulwark-proxy", version: VERSION },
    { capabilities: { tools: { listChanged: true } }, ...(upstream.getInstructions() ? { instructions: upstream.getInstructions()! } : {}) },
  );

  // One run per proxy session: a stdio proxy serves exactly one client connection, so its
  // keys, budgets, approvals and chain breaker span that client's whole conversation.
  let run: Run | undefined;
  const theRun = () => {
    if (!run) {
      run = rt.startRun({ agent: policy.agent ?? server.getClientVersion()?.name ?? "mcp-proxy", ...(policy.runId ? { runId: policy.runId } : {}) });
      log(`run ${run.id} for ${server.getClientVersion()?.name ?? "an MCP client"}, store ${policy.store}`);
    }
    return run;
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: toolset.definitions }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const name = request.params.name;
    const tool = toolset.tools[name];
    if (!tool) return failed(`There is no tool named ${name}. The tools are: ${Object.keys(toolset.tools).join(", ")}.`, { kind: "unknown_tool", retryable: false });
    const outcome = await theRun().call(tool, request.params.arguments ?? {});
    if (outcome.ok) return { ...outcome.value, _meta: { ...outcome.value._meta, "bulwark/call": { callId: outcome.callId, replayed: outcome.replayed } } };
    const { kind, message, retryable } = outcome.failure;
    return failed(message, { kind, retryable, callId: outcome.callId });
  });

  // The child's tool list changed: guard the new list, and tell our client.
  upstream.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    try {
      toolset = await guard();
      await server.sendToolListChanged();
    } catch (e) {
      log(`could not reload the tool list: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    await run?.end().catch(() => {});
    await upstream.close().catch(() => {});
    await rt.close().catch(() => {});
    process.exit(code);
  };
  process.once("SIGINT", () => void shutdown(130));
  process.once("SIGTERM", () => void shutdown(143));
  server.onclose = () => void shutdown(0);
  await server.connect(new StdioServerTransport());
  process.stdin.once("end", () => void shutdown(0));
  log(`serving ${toolset.definitions.length} tools of \`${serverName}\``);
}

function failed(text: string, meta: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text }], isError: true, _meta: { [FAILURE_META_KEY]: meta } };
}
