/**
 * `bulwark serve`: the dashboard and JSON API over a store, for the people who operate
 * agents: runs with their mode, breakers, the approval queue, handoffs, freezes, stop and
 * rollback, and /metrics for Prometheus. Binds 127.0.0.1 unless --host says otherwise;
 * a wider address needs tokens (BULWARK_TOKENS or --tokens-file; never an option's value,
 * which every user of the machine can read in `ps`).
 */
import { Command, InvalidArgumentError } from "commander";
import { createRuntime, redactText, type Tool } from "../index.js";
import { startServer, type DashboardServer } from "../server/http.js";
import { loadTokens, type ApiToken } from "../server/auth.js";
import { DEFAULT_STORE, existingStore, fail, loadTools } from "./shared.js";

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  return n;
}

const hostNames = (v: string, previous: string[] = []) => [...previous, ...v.split(",").map((h) => h.trim()).filter(Boolean)];

export function serveCommand(): Command {
  return new Command("serve")
    .description("a local dashboard and JSON API: runs, breakers, approvals, handoffs, freezes, rollback, /metrics")
    .option("--store <url>", "the store", DEFAULT_STORE)
    .option("--port <port>", "the port (0: any free one)", port, 7070)
    .option("--host <host>", "the address to bind; anything but loopback needs tokens", "127.0.0.1")
    .option("--tokens-file <path>", "named tokens, one `name:role:token` a line (role: read or decide) [$BULWARK_TOKENS]")
    .option("--allow-host <names>", "host names to answer to when bound beyond loopback (IP addresses always are)", hostNames)
    .option("--tools <module>", "a module exporting the agent's tools, so that rollback can run their compensations")
    .action(async function (this: Command, o: { store: string; port: number; host: string; tokensFile?: string; allowHost?: string[]; tools?: string }) {
      let tokens: ApiToken[];
      let store: string;
      try {
        tokens = loadTokens({ file: o.tokensFile, warn: (m) => console.error(`warning: ${m}`) });
        store = existingStore(o.store);
      } catch (e) {
        fail(this, e, 2);
      }
      const rt = createRuntime({ store });
      let tools: Tool[] = [];
      let server: DashboardServer;
      try {
        if (o.tools) tools = await loadTools(o.tools);
        server = await startServer({ runtime: rt, tools, port: o.port, host: o.host, tokens, ...(o.allowHost ? { allowedHosts: o.allowHost } : {}) });
      } catch (e) {
        await rt.close().catch(() => {});
        fail(this, e);
      }
      console.log(`bulwark serve: dashboard at ${server.url}/  (API ${server.url}/api/runs, metrics ${server.url}/metrics; store ${redactText(o.store)})`);
      console.log(
        tokens.length > 0
          ? `tokens: ${tokens.map((t) => `${t.name} (${t.role})`).join(", ")}; every API call needs one`
          : "no tokens: anyone who can reach this address can approve and roll back (give BULWARK_TOKENS or --tokens-file to require them)",
      );
      if (!o.tools) console.log("no --tools: rollback will report what it cannot undo without the agent's compensations");
      const stop = async () => {
        await server.close().catch(() => {});
        await rt.close();
        process.exit(0);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}
