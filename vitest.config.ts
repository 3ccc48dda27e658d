import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the package by its public name, as users do, but run against the
    // sources so that no build is needed before `npm test`.
    alias: [
      { find: /^bulwark$/, replacement: src("index.ts") },
      { find: /^bulwark\/chaos$/, replacement: src("chaos/index.ts") },
      { find: /^bulwark\/ai-sdk$/, replacement: src("adapters/ai-sdk.ts") },
      { find: /^bulwark\/openai-agents$/, replacement: src("adapters/openai-agents.ts") },
      { find: /^bulwark\/langchain$/, replacement: src("adapters/langchain.ts") },
      { find: /^bulwark\/mcp$/, replacement: src("adapters/mcp.ts") },
      { find: /^bulwark\/testing$/, replacement: src("testing/index.ts") },
    ],
  },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
