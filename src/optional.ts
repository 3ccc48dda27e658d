/**
 * Loading the packages that only some uses of Bulwark need (a database driver, metrics,
 * the MCP SDK). They are optional peers: an application installs the ones it uses, so the
 * core installs with few dependencies and compiles nothing. Loaded at the point of use,
 * never at import, and a missing one is an error that names the package to install.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Thrown when a feature's package is not installed. `packageName` is what to install. */
export class MissingPackageError extends Error {
  readonly packageName: string;
  constructor(packageName: string, feature: string, install: string, cause: unknown) {
    super(`${feature} needs the package "${packageName}", which is not installed: npm install ${install}`, { cause });
    this.name = "MissingPackageError";
    this.packageName = packageName;
  }
}

function missing(e: unknown, name: string): boolean {
  const err = e as { code?: string; message?: string };
  // Only the package itself being absent; an error inside it (a broken native build) is
  // reported as it is.
  return (err?.code === "MODULE_NOT_FOUND" || err?.code === "ERR_MODULE_NOT_FOUND") && String(err.message).includes(`'${name}'`);
}

/**
 * Load a CommonJS peer synchronously (better-sqlite3, pg, prom-client are CommonJS), so
 * that a store or metrics can be made where the caller expects it synchronously.
 */
export function requirePeer<T>(name: string, feature: string, install: string = name): T {
  try {
    return require(name) as T;
  } catch (e) {
    if (missing(e, name)) throw new MissingPackageError(name, feature, install, e);
    throw e;
  }
}

/** Load an ES module peer (the MCP SDK, the AI SDK): the same error when it is missing. */
export async function importPeer<T>(name: string, feature: string, install: string = name): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    if (missing(e, name)) throw new MissingPackageError(name, feature, install, e);
    throw e;
  }
}
