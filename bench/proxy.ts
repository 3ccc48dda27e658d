/**
 * What `bulwark proxy` adds to a tool call: the same MCP client calls the same server
 * (test/fixtures/mcp-everything.ts) directly and through the proxy, 1,000 sequential
 * calls each way, in alternating blocks so that drift on a shared machine falls on both;
 * on stdio (client → proxy → child server) and on streamable HTTP (client → proxy at
 * --listen → server at a URL). Reported: median and p99 of each, and what the proxy adds.
 *
 * Where the time goes, measured in this process: the guard (one `run.call` of a guarded
 * MCP tool whose server answers at once, memory store), JSON (the proxy parses and writes
 * each message twice), and the rest: the extra hop (a pipe or HTTP request each way, and
 * the proxy's event loop waking for it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createRuntime } from "../src/index.js";
import { guardTools, type CallToolResult } from "../src/adapters/mcp.js";

const CALLS = Number(process.env.BENCH_PROXY_CALLS ?? 1_000);
const BLOCK = 100;
const root = fileURLToPath(new URL("..", import.meta.url));
const node = [process.execPath, "--import", "tsx"];
const fixture = [...node, join(root, "test/fixtures/mcp-everything.ts")];
const cli = [...node, join(root, "src/cli/main.ts"), "proxy"];
const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-proxy-"));
const policy = join(dir, "policy.yaml");
writeFileSync(policy, "store: memory\nrun: { maxSteps: 1000000, maxUnverifiedDepth: 1000000 }\n");
const children: ChildProcess[] = [];

type Caller = (i: number) => Promise<unknown>;
const tools = {
  read: (c: Client) => () => c.callTool({ name: "test_simple_text", arguments: {} }),
  write: (c: Client) => (i: number) => c.callTool({ name: "touch", arguments: { id: `k${i}` } }),
};

async function stdioClient(command: string[]): Promise<Client> {
  const c = new Client({ name: "bench", version: "0" });
  await c.connect(new StdioClientTransport({ command: command[0]!, args: command.slice(1), cwd: root, stderr: "ignore" }));
  return c;
}

async function httpClient(url: string): Promise<Client> {
  const c = new Client({ name: "bench", version: "0" });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

/** A child that prints its URL (the fixture with --http, the proxy with --listen). */
async function listening(command: string[], pattern: RegExp): Promise<string> {
  const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    const seen = (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    child.once("exit", (code) => reject(new Error(`${command.join(" ")} exited (${code}): ${out}`)));
  });
}

/** Per-call milliseconds of `direct` and `proxied`, measured in alternating blocks; every call must succeed. */
async function measure(direct: Caller, proxied: Caller): Promise<{ direct: number[]; proxied: number[] }> {
  const ok = async (call: Caller, i: number) => {
    const r = (await call(i)) as CallToolResult;
    if (r.isError) throw new Error(`a benchmarked call failed: ${JSON.stringify(r).slice(0, 300)}`);
  };
  for (let i = 0; i < 50; i++) await ok(direct, -i - 1), await ok(proxied, -i - 1); // warm up, and every case works
  const times = { direct: [] as number[], proxied: [] as number[] };
  let n = 0;
  for (let block = 0; block < CALLS / BLOCK; block++) {
    for (const [name, call] of [["direct", direct], ["proxied", proxied]] as const) {
      for (let i = 0; i < BLOCK; i++) {
        const t = performance.now();
        const r = (await call(n++)) as CallToolResult;
        times[name].push(performance.now() - t);
        if (r.isError) throw new Error(`a benchmarked call failed: ${JSON.stringify(r).slice(0, 300)}`);
      }
    }
  }
  return times;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

function report(transport: string, tool: string, t: { direct: number[]; proxied: number[] }) {
  const [d50, p50, d99, p99] = [quantile(t.direct, 0.5), quantile(t.proxied, 0.5), quantile(t.direct, 0.99), quantile(t.proxied, 0.99)];
  console.log(
    `${`${transport} ${tool}`.padEnd(11)} direct median ${ms(d50)} p99 ${ms(d99)} | proxied median ${ms(p50)} p99 ${ms(p99)} | added median ${ms(p50 - d50)} p99 ${ms(p99 - d99)} ${p99 - d99 < 1 ? "(goal p99 < 1 ms: met)" : "(goal p99 < 1 ms: not met)"}`,
  );
}

/** The guard alone: a guarded MCP tool whose server answers at once, on a memory store. */
async function guardCost(effect: "read" | "write"): Promise<number> {
  const rt = createRuntime({ policy: { maxSteps: 1e9, maxUnverifiedDepth: 1e9 } });
  await rt.ready();
  const run = rt.startRun({ agent: "bench" });
  const result: CallToolResult = { content: [{ type: "text", text: "This is a simple text response for testing." }] };
  const annotations = effect === "read" ? { readOnlyHint: true } : { destructiveHint: false };
  const { tools } = guardTools([{ name: "t", inputSchema: { type: "object", properties: { id: { type: "string" } } }, annotations }], async () => result);
  const tool = tools.get("t")!;
  for (let i = 0; i < 2_000; i++) await run.call(tool, { id: `w${i}` });
  const n = 20_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) await run.call(tool, { id: `k${i}` });
  const per = (performance.now() - t) / n;
  await rt.close();
  return per;
}

/** JSON: the proxy parses the request and the answer and writes both once more. */
function jsonCost(): number {
  const request = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "touch", arguments: { id: "k1" }, _meta: { progressToken: 7 } } };
  const answer = { jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "This is a simple text response for testing." }], _meta: { "bulwark/call": { callId: "01a22d99-71d2-7420-959a-4645c5e33d0d", replayed: false } } } };
  const n = 50_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    JSON.parse(JSON.stringify(request));
    JSON.parse(JSON.stringify(answer));
  }
  return (performance.now() - t) / n;
}

try {
  console.log(`MCP proxy, added latency per tool call: ${CALLS} sequential calls each way, blocks of ${BLOCK} alternating (shared machine: compare within a row)`);
  const direct = await stdioClient(fixture);
  const proxied = await stdioClient([...cli, "--policy", policy, "--", ...fixture]);
  for (const [name, make] of Object.entries(tools)) report("stdio", name, await measure(make(direct), make(proxied)));
  await direct.close();
  await proxied.close();

  const upstream = await listening([...fixture, "--http", "0"], /listening (\S+)/);
  const front = await listening([...cli, "--policy", policy, "--listen", "127.0.0.1:0", "--", upstream], /at (http:\/\/\S+\/mcp)/);
  const directHttp = await httpClient(upstream);
  const proxiedHttp = await httpClient(front);
  for (const [name, make] of Object.entries(tools)) report("http", name, await measure(make(directHttp), make(proxiedHttp)));
  await directHttp.close();
  await proxiedHttp.close();

  const [read, write, json] = [await guardCost("read"), await guardCost("write"), jsonCost()];
  console.log(`where the time goes, per call, in one process: the guard ${ms(read)} (read) / ${ms(write)} (write, memory store); JSON parse+write of request and answer ${ms(json)}; the rest of what the proxy adds is the extra hop (pipe or HTTP each way, and the proxy's event loop waking)`);
} finally {
  for (const c of children) c.kill();
  rmSync(dir, { recursive: true, force: true });
}
