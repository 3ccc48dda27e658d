/**
 * What the commands share: the default store, a runtime opened for one action, the one
 * way a command fails, the `--tools` module loader, and the whole-number option parser.
 */
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError, type Command } from "commander";
import { createRuntime, type Runtime, type Tool } from "../index.js";

/** The store every command uses unless told otherwise. */
export const DEFAULT_STORE = "sqlite:.bulwark/bulwark.db";

/**
 * The store a command that reads state opens: one that exists. Opening a SQLite path
 * creates the file, so a command run in the wrong folder would make an empty database and
 * report "nothing here"; it says where it looked instead. A memory store holds nothing
 * another process wrote. (A PostgreSQL database must exist already; Bulwark's schema in
 * it is made by the first process that uses it.)
 */
export function existingStore(store: string): string {
  if (store === "memory") throw new Error("--store memory holds nothing another process wrote: name the store the agents use");
  if (store.startsWith("sqlite:")) {
    const path = store.slice("sqlite:".length);
    if (path !== ":memory:" && path !== "" && !existsSync(path))
      throw new Error(`no Bulwark store at ${resolve(path)}: no agent has used it yet, or this is not the folder the agents run in; give the store with --store sqlite:<path> (or postgres://…)`);
  }
  return store;
}

/** Open a runtime on an existing store, run `fn` with it, and close it whatever happens. */
export async function withRuntime<T>(store: string, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = createRuntime({ store: existingStore(store) });
  let result: T;
  try {
    await rt.ready();
    result = await fn(rt);
  } catch (e) {
    // The action's error is the one to report, not a failure to close after it.
    await rt.close().catch(() => {});
    throw e;
  }
  await rt.close();
  return result;
}

/**
 * Who decides: --by, else $BULWARK_USER, else the login name of the user running the
 * command (from the system, not from $USER). A decision is never recorded under a
 * made-up name: without any of them it is refused.
 */
export function who(by: string | undefined): string {
  const named = by ?? process.env.BULWARK_USER;
  if (named !== undefined) {
    if (named.trim() === "") throw new Error("--by (or BULWARK_USER) is empty: say who decides");
    return named.trim();
  }
  let login = "";
  try {
    login = userInfo().username;
  } catch {
    // no name for this user id (a container without an entry in /etc/passwd)
  }
  if (!login) throw new Error("who decides? this user has no login name: give --by <name>");
  return login;
}

/** End the command with `error: <message>` on stderr and the exit code. */
export function fail(cmd: Command, e: unknown, code = 1): never {
  return cmd.error(`error: ${e instanceof Error ? e.message : String(e)}`, { exitCode: code });
}

/** The tools a module exports (named, or as a default array or object). */
export async function loadTools(path: string): Promise<Tool[]> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const found: Tool[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isTool(v)) found.push(v);
    else if (v && typeof v === "object" && v === mod.default) Object.values(v).forEach(visit);
  };
  Object.values(mod).forEach(visit);
  if (found.length === 0) throw new Error(`${path} exports no tools made by defineTool`);
  return [...new Set(found)];
}

function isTool(v: unknown): v is Tool {
  return typeof v === "object" && v !== null && typeof (v as Tool).name === "string" && typeof (v as Tool).spec?.execute === "function";
}

/** A commander option parser: a whole number of at least 1. */
export function whole(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}
