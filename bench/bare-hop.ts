/**
 * The floor of any proxy, for bench/proxy.ts: a process that passes bytes between an MCP
 * client and server without reading them. On stdio (`bare-hop.ts -- <server command>`) it
 * pipes its stdin to the child's and the child's stdout to its own; over HTTP
 * (`bare-hop.ts --listen <upstream url>`) it forwards each request to the upstream and
 * streams the answer back, headers and all. What `bulwark proxy` adds beyond this hop is
 * its own cost; the hop's is a second process's wake-ups and copies.
 */
import { spawn } from "node:child_process";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

const args = process.argv.slice(2);
if (args[0] === "--listen") {
  const upstream = new URL(args[1]!);
  const server = createServer((req, res) => {
    const out = request({ host: upstream.hostname, port: upstream.port, path: upstream.pathname, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  server.listen(0, "127.0.0.1", () => console.log(`bare hop at http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`));
} else {
  const command = args.slice(args.indexOf("--") + 1);
  const child = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
  process.stdin.pipe(child.stdin);
  child.stdout.pipe(process.stdout);
  child.on("exit", (code) => process.exit(code ?? 0));
}
