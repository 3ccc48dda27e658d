/**
 * `bulwark proxy --policy <file> [--listen <host:port>] -- <mcp server command… | URL>`: an
 * MCP server in front of another. It starts the real server as a child (or reaches it at
 * a URL), relays every message as it is, and sends every `tools/call` through one Bulwark
 * run per client session, so any MCP client gets retries with keys, breakers, freezes,
 * budgets, approvals, the chain breaker and the file's rules (a module it names, loaded
 * here before the server starts). On stdio by default; `--listen` serves
 * streamable HTTP at `/mcp`, with `bulwark serve`'s tokens (BULWARK_TOKENS or
 * --tokens-file, never an option's value) and host names (--allow-host). The proxy itself
 * is `mcpProxy` of `bulwark/mcp`.
 */
import { Command, InvalidArgumentError } from "commander";
import { mcpProxy } from "../adapters/mcp.js";
import { loadProxyPolicy, type ProxyPolicy } from "./proxy-policy.js";
import { loadRuleModule, toolProblems, type ProxyRules } from "./proxy-rules.js";
import { loadTokens, type ApiToken } from "../server/auth.js";
import { fail } from "./shared.js";

export function proxyCommand(): Command {
  return new Command("proxy")
    .description("serve an MCP server's tools, every call guarded by a Bulwark run (put the server's command, or its URL, after --)")
    .requiredOption("--policy <file>", "policy file, YAML or JSON: store, run policy, per-tool overrides, rule module")
    .option("--listen <host:port>", "serve MCP streamable HTTP at /mcp on this address (e.g. 127.0.0.1:8931) instead of stdio", listenAddress)
    .option("--tokens-file <path>", "with --listen: named tokens, one `name:role:token` a line; every request needs one [$BULWARK_TOKENS]")
    .option("--allow-host <names>", "with --listen beyond loopback: host names to answer to (IP addresses always are)", hostNames)
    .argument("<command...>", "the MCP server to start, e.g. -- npx -y @modelcontextprotocol/server-memory; or its URL, e.g. -- http://127.0.0.1:3000/mcp")
    .action(async function (this: Command, command: string[], o: { policy: string; listen?: { host: string; port: number }; tokensFile?: string; allowHost?: string[] }) {
      let policy: ProxyPolicy;
      let rules: ProxyRules | undefined;
      let tokens: ApiToken[] = [];
      try {
        if (!o.listen && (o.tokensFile !== undefined || o.allowHost)) throw new Error("--tokens-file and --allow-host are for --listen (on stdio the client is the process that started the proxy)");
        if (o.listen) tokens = loadTokens({ file: o.tokensFile, warn: (m) => process.stderr.write(`bulwark proxy: warning: ${m}\n`) });
        policy = loadProxyPolicy(o.policy);
        rules = await loadRuleModule(policy);
      } catch (e) {
        fail(this, e, 2);
      }
      const url = command.length === 1 && /^https?:\/\//i.test(command[0]!) ? command[0] : undefined;
      try {
        const server = await mcpProxy({
          ...(url !== undefined ? { url } : { command }),
          ...(o.listen ? { listen: o.listen, tokens, ...(o.allowHost ? { allowedHosts: o.allowHost } : {}) } : {}),
          store: policy.store,
          policy: rules ? { ...policy.run, rules: rules.rules } : policy.run,
          tools: policy.tools,
          checkTools: (definitions) => toolProblems(policy, definitions, rules),
          ...(policy.prefix !== undefined ? { prefix: policy.prefix } : {}),
          ...(policy.agent !== undefined ? { agent: policy.agent } : {}),
          ...(policy.runId !== undefined ? { runId: policy.runId } : {}),
          source: `policy file ${policy.file}`,
        });
        // On stdio the proxy ends with its client; served over HTTP it ends on a signal, and
        // closes first: its sessions' runs end, their child servers stop, the store closes.
        if (o.listen)
          for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) process.once(signal, () => void server.close().finally(() => process.exit(code)));
      } catch (e) {
        fail(this, e, 1);
      }
    });
}

const hostNames = (v: string, previous: string[] = []) => [...previous, ...v.split(",").map((h) => h.trim()).filter(Boolean)];

/** `host:port`, `[::1]:port` or `:port` (loopback). */
function listenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw new InvalidArgumentError(`expected <host>:<port>, e.g. 127.0.0.1:8931 (0 for any free port), not ${JSON.stringify(value)}`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}
