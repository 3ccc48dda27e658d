/**
 * `bulwark serve`: the dashboard and JSON API over a store, for the people who operate
 * agents: runs with their mode, breakers, the approval queue, handoffs, freezes, stop and
 * rollback, and /metrics for Prometheus. Binds 127.0.0.1 unless --host says otherwise.
 */
import { Command, InvalidArgumentError } from "commander";
import { createRuntime, type Tool } from "../index.js";
import { startServer, type DashboardServer } from "../server/http.js";
import { DEFAULT_STORE, fail, loadTools } from "./shared.js";

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  return n;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("a local dashboard and JSON API: runs, breakers, approvals, handoffs, freezes, rollback, /metrics")
    .option("--store <url>", "the store", DEFAULT_STORE)
    .option("--port <port>", "the port (0: any free one)", port, 7070)
    .option("--host <host>", "the address to bind (anything but loopback exposes approvals and rollback to the network)", "127.0.0.1")
    .option("--tools <module>", "a module exporting the agent's tools, so that rollback can run their compensations")
    .action(async function (this: Command, o: { store: string; port: number; host: string; tools?: string }) {
      const rt = createRuntime({ store: o.store });
      let tools: Tool[] = [];
      let server: DashboardServer;
      try {
        if (o.tools) tools = await loadTools(o.tools);
        server = await startServer({ runtime: rt, tools, port: o.port, host: o.host });
      } catch (e) {
        await rt.close().catch(() => {});
        fail(this, e);
      }
      console.log(`bulwark serve: dashboard at ${server.url}/  (API ${server.url}/api/runs, metrics ${server.url}/metrics; store ${o.store})`);
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
