/**
 * MCP's stdio framing (one JSON-RPC message per line) over a pair of streams, with a size
 * limit that fails one message, never the connection. The SDK's stdio transports buffer a
 * line by concatenating every chunk (quadratic on a 20 MB result) and, past 10 MB, drop
 * the buffer mid-line, so the rest of that line and the messages after it are lost. Here a
 * line over the limit is skipped to its end; its request id, read from the line's head or
 * tail, is reported so that the one call waiting for it can fail.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";

/** Default size limit of one message from the other side: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** A message over the size limit: its id when one could be read, and its size. */
export class OversizedMessage extends Error {
  constructor(
    readonly id: RequestId | undefined,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a message of ${mb(bytes)} is over the limit of ${mb(limit)}`);
    this.name = "OversizedMessage";
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
// JSON-RPC ids are numbers or strings; SDKs write them first or last in the object.
const HEAD_ID = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")/;
const TAIL_ID = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$/;

/** The id of a JSON-RPC message too large to read, from its first and last bytes, when there. */
export function messageIdIn(head: string, tail: string): RequestId | undefined {
  const raw = HEAD_ID.exec(head)?.[1] ?? TAIL_ID.exec(tail)?.[1];
  return raw === undefined ? undefined : (JSON.parse(raw) as RequestId);
}
const KEEP = 256;

export class LineTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  private chunks: Buffer[] = [];
  private size = 0;
  private head: Buffer | undefined; // of a line being skipped
  private tail = Buffer.alloc(0);
  private closed = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
    private readonly onClose?: () => Promise<void>,
  ) {}

  async start(): Promise<void> {
    this.input.on("data", (chunk: Buffer) => this.read(chunk));
    this.input.on("error", (e) => this.onerror?.(e));
    this.input.on("end", () => void this.close());
    this.output.on("error", (e) => this.onerror?.(e));
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error("not connected"));
    return new Promise((resolve) => (this.output.write(`${JSON.stringify(message)}\n`) ? resolve() : this.output.once("drain", resolve)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.onClose?.();
    this.onclose?.();
  }

  private read(chunk: Buffer) {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      this.take(chunk.subarray(from, nl));
      this.endLine();
      from = nl + 1;
    }
    if (from < chunk.length) this.take(chunk.subarray(from));
  }

  private take(part: Buffer) {
    this.size += part.length;
    if (this.head === undefined && this.size <= this.maxMessageBytes) {
      this.chunks.push(part);
      return;
    }
    if (this.head === undefined) {
      // Over the limit: keep the line's start and end only, for its id.
      this.head = Buffer.concat([...this.chunks, part.subarray(0, KEEP)]).subarray(0, KEEP);
      this.chunks = [];
    }
    this.tail = Buffer.concat([this.tail, part]).subarray(-KEEP);
  }

  private endLine() {
    const size = this.size;
    this.size = 0;
    if (this.head !== undefined) {
      const head = this.head.toString("utf8");
      const tail = this.tail.toString("utf8");
      this.head = undefined;
      this.tail = Buffer.alloc(0);
      this.onerror?.(new OversizedMessage(messageIdIn(head, tail), size, this.maxMessageBytes));
      return;
    }
    const line = (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString("utf8").replace(/\r$/, "");
    this.chunks = [];
    if (line.trim() === "") return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (e) {
      this.onerror?.(new Error(`not JSON: ${line.slice(0, 80)}${line.length > 80 ? "…" : ""} (${e instanceof Error ? e.message : String(e)})`));
      return;
    }
    if (typeof message !== "object" || message === null || (message as { jsonrpc?: unknown }).jsonrpc !== "2.0") {
      this.onerror?.(new Error(`not a JSON-RPC 2.0 message: ${line.slice(0, 80)}`));
      return;
    }
    this.onmessage?.(message as JSONRPCMessage);
  }
}

/**
 * An MCP server started as a child process, spoken to over its stdio. Its stderr is ours;
 * it gets `env` [our environment]. Rejects when the command cannot be started.
 */
export async function childTransport(command: string, args: string[], maxMessageBytes?: number, env: NodeJS.ProcessEnv = process.env): Promise<LineTransport & { child: ChildProcess }> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"], env, windowsHide: true });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const transport = new LineTransport(child.stdout!, child.stdin!, maxMessageBytes, async () => {
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    }
  });
  child.on("exit", () => void transport.close());
  child.on("error", (e) => transport.onerror?.(e));
  return Object.assign(transport, { child });
}
