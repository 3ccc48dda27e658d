/**
 * What `bulwark proxy` adds to a tool call: the same MCP client calls the same server
 * (test/fixtures/mcp-everything.ts) directly and through the proxy, 1,000 sequential
 * calls each way, interleaved call by call so that drift on a shared machine falls on
 * both; on stdio (client → proxy → child server) and on streamable HTTP (client → proxy at
 * --listen → server at a URL); with the memory store and with SQLite (the proxy's default
 * kind); then 8 clients at once. Reported: median and p99 of each, and what the proxy adds.
 * Beside them, the same calls through a bare hop (bench/bare-hop.ts: a process that passes
 * the bytes on unread): the floor of any proxy on this machine, so that what is Bulwark's
 * (proxied − hop) is told apart from what a second process costs (hop − direct).
 *
 * Where the time goes, measured in this process: the guard (one `run.call` of a guarded
 * MCP tool whose server answers at once, memory store), JSON (the proxy parses and writes
 * each message twice), and the rest: the second hop. BENCH_PROXY_PROFILE=<dir> has the
 * proxy processes write CPU profiles (node --cpu-prof) to look inside that.
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
// BENCH_PROXY_CLIENTS: how many clients at once in the concurrent rows [8; 0: none].
const CLIENTS = Number(process.env.BENCH_PROXY_CLIENTS ?? 8);
const root = fileURLToPath(new URL("..", import.meta.url));
const node = [process.execPath, "--import", "tsx"];
const fixture = [...node, join(root, "test/fixtures/mcp-everything.ts")];
const hop = [...node, join(root, "bench/bare-hop.ts")];
// BENCH_PROXY_PROFILE=<dir>: the proxy processes write CPU profiles there (node --cpu-prof).
const profile = process.env.BENCH_PROXY_PROFILE;
const cli = [process.execPath, ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []), "--import", "tsx", join(root, "src/cli/main.ts"), "proxy"];
// BENCH_PROXY_ONLY=stdio or http: one transport.
const only = process.env.BENCH_PROXY_ONLY;
const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-proxy-"));
// The proxy's store: memory, and SQLite (a file here), the kind `bulwark proxy` uses unless told.
// BENCH_PROXY_STORES=memory (or sqlite) measures one.
const stores = (process.env.BENCH_PROXY_STORES ?? "memory,sqlite").split(",");
const policyFor = (store: string) => {
  const file = join(dir, `policy-${store}.yaml`);
  const spec = store === "sqlite" ? `sqlite:${join(dir, "bulwark.db")}` : store;
  writeFileSync(file, `store: ${JSON.stringify(spec)}\nrun: { maxSteps: 1000000, maxUnverifiedDepth: 1000000 }\n`);
  return file;
};
const children: ChildProcess[] = [];

type Caller = (i: number) => Promise<unknown>;
const PATHS = ["direct", "hop", "proxied"] as const;
type Path = (typeof PATHS)[number];
type Times = Record<Path, number[]>;
type Callers = Record<Path, Caller>;
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

/**
 * Per-call milliseconds of each path, interleaved call by call (the order rotating every
 * call), so that a loaded machine's slow moments fall on all alike; every call must succeed.
 */
async function measure(callers: Callers, calls = CALLS): Promise<Times> {
  const timed = async (call: Caller, i: number, into?: number[]) => {
    const t = performance.now();
    const r = (await call(i)) as CallToolResult;
    into?.push(performance.now() - t);
    if (r.isError) throw new Error(`a benchmarked call failed: ${JSON.stringify(r).slice(0, 300)}`);
  };
  for (let i = 0; i < 50; i++) for (const path of PATHS) await timed(callers[path], -i - 1); // warm up, and every case works
  const times: Times = { direct: [], hop: [], proxied: [] };
  for (let i = 0; i < calls; i++) {
    for (let j = 0; j < PATHS.length; j++) {
      const path = PATHS[(i + j) % PATHS.length]!;
      await timed(callers[path], i, times[path]);
    }
  }
  return times;
}

/** `clients` sets of callers measured at once, each with its share of the calls. */
async function measureConcurrent(sets: Callers[]): Promise<Times> {
  const all = await Promise.all(sets.map((c) => measure(c, Math.ceil(CALLS / sets.length))));
  return { direct: all.flatMap((t) => t.direct), hop: all.flatMap((t) => t.hop), proxied: all.flatMap((t) => t.proxied) };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

function report(transport: string, tool: string, t: Times) {
  const [d50, h50, p50] = [quantile(t.direct, 0.5), quantile(t.hop, 0.5), quantile(t.proxied, 0.5)];
  const [d99, h99, p99] = [quantile(t.direct, 0.99), quantile(t.hop, 0.99), quantile(t.proxied, 0.99)];
  console.log(
    `${`${transport} ${tool}`.padEnd(27)} direct median ${ms(d50)} p99 ${ms(d99)} | proxied median ${ms(p50)} p99 ${ms(p99)} | added median ${ms(p50 - d50)} p99 ${ms(p99 - d99)} ${p99 - d99 < 1 ? "(goal p99 < 1 ms: met)" : "(goal p99 < 1 ms: not met)"}`,
  );
  console.log(`${"".padEnd(27)} a bare hop adds median ${ms(h50 - d50)} p99 ${ms(h99 - d99)}; Bulwark beyond the hop: median ${ms(p50 - h50)} p99 ${ms(p99 - h99)}`);
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

async function stdioRows(store: string) {
  const policy = policyFor(store);
  // Each stdio client starts its own server, behind its own proxy or hop.
  const clients = async () => ({
    direct: await stdioClient(fixture),
    hop: await stdioClient([...hop, "--", ...fixture]),
    proxied: await stdioClient([...cli, "--policy", policy, "--", ...fixture]),
  });
  const one = await clients();
  for (const [name, make] of Object.entries(tools)) report(`stdio ${store}`, name, await measure(callersOf(one, make)));
  await closeAll([one]);
  if (CLIENTS === 0) return;
  const sets = await Promise.all(Array.from({ length: CLIENTS }, clients));
  report(`stdio ${store} ${CLIENTS} clients`, "write", await measureConcurrent(sets.map((c) => callersOf(c, tools.write))));
  await closeAll(sets);
}

const callersOf = (clients: Record<Path, Client>, make: (c: Client) => Caller): Callers => ({ direct: make(clients.direct), hop: make(clients.hop), proxied: make(clients.proxied) });
const closeAll = (sets: Record<Path, Client>[]) => Promise.all(sets.flatMap((c) => PATHS.map((p) => c[p].close())));

async function httpRows(store: string) {
  const upstream = await listening([...fixture, "--http", "0"], /listening (\S+)/);
  const front = await listening([...cli, "--policy", policyFor(store), "--listen", "127.0.0.1:0", "--", upstream], /at (http:\/\/\S+\/mcp)/);
  const bare = await listening([...hop, "--listen", upstream], /at (http:\/\/\S+\/mcp)/);
  // One server, one proxy and one hop: a session each.
  const clients = async () => ({ direct: await httpClient(upstream), hop: await httpClient(bare), proxied: await httpClient(front) });
  const one = await clients();
  for (const [name, make] of Object.entries(tools)) report(`http ${store}`, name, await measure(callersOf(one, make)));
  await closeAll([one]);
  if (CLIENTS === 0) return;
  const sets = await Promise.all(Array.from({ length: CLIENTS }, clients));
  report(`http ${store} ${CLIENTS} clients`, "write", await measureConcurrent(sets.map((c) => callersOf(c, tools.write))));
  await closeAll(sets);
}

try {
  console.log(`MCP proxy, added latency per tool call: ${CALLS} sequential calls each way, direct and proxied interleaved call by call (shared machine: compare within a row); then ${CLIENTS} clients at once, ${Math.ceil(CALLS / CLIENTS)} calls each`);
  for (const store of stores) {
    if (only !== "http") await stdioRows(store);
    if (only !== "stdio") await httpRows(store);
  }

  const [read, write, json] = [await guardCost("read"), await guardCost("write"), jsonCost()];
  console.log(`where the time goes, per call, in one process: the guard ${ms(read)} (read) / ${ms(write)} (write, memory store); JSON parse+write of request and answer ${ms(json)}; the rest is the second hop: a pipe each way and a third process waking (stdio), or a second server and client of the MCP SDK's streamable HTTP transports (HTTP)`);
} finally {
  for (const c of children) c.kill();
  rmSync(dir, { recursive: true, force: true });
}
