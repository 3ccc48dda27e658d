/**
 * Reading a policy file (YAML or JSON, the proxy's format) from a command that may run
 * without the parser's packages: yaml and zod are optional peers, loaded here on first
 * use, so that commands given no policy file work without them.
 */
import { MissingPackageError } from "../index.js";
import type { ProxyPolicy } from "./proxy-policy.js";

/** The policy file at `path`, or a MissingPackageError that says to install yaml and zod. */
export async function loadPolicyFile(path: string): Promise<ProxyPolicy> {
  let mod: typeof import("./proxy-policy.js");
  try {
    mod = await import("./proxy-policy.js");
  } catch (e) {
    const missing = /Cannot find (?:package|module) '(yaml|zod)'/.exec(String((e as Error)?.message))?.[1];
    if (missing) throw new MissingPackageError(missing, "Reading a policy file", "yaml zod", e);
    throw e;
  }
  return mod.loadProxyPolicy(path);
}
