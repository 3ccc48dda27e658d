/**
 * `bulwark/mcp`: the tools of an MCP server, guarded, and the proxy built on them.
 * - `mcpTools(client)` lists a connected server's tools and makes a Bulwark tool of each
 *   (mcp/tools.ts: effects from annotations, schemas checked, keys offered in `_meta`);
 *   `toCallToolResult` turns a call's outcome back into an MCP result.
 * - `mcpProxy` serves a guarded MCP server on stdio or streamable HTTP in front of another
 *   (mcp/proxy.ts), relaying every message as it is except `tools/call` (mcp/relay.ts,
 *   mcp/session.ts); `bulwark proxy` is its command line.
 * - `bulwarkToolName` maps MCP names onto Bulwark names one to one (mcp/names.ts).
 */
export * from "./mcp/tools.js";
export { bulwarkToolName } from "./mcp/names.js";
export { mcpProxy, PROXY_RUN_DEFAULTS, type McpProxyOptions, type McpProxyServer } from "./mcp/proxy.js";
export { DEFAULT_MAX_MESSAGE_BYTES } from "./mcp/line-transport.js";
export type { ApiToken, Role } from "../server/auth.js";
