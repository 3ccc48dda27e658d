/**
 * ai-sdk-guards-across-turns.test.ts again, on AI SDK 7: `ai` resolves to AI SDK 7 (the
 * `ai7` devDependency). AI SDK 7 supports Node 22 and later; on Node 20 these are skipped
 * (AI SDK 6 is tested there).
 */
import { it, vi } from "vitest";

vi.mock("ai", () => import("ai7"));
vi.mock("ai/test", () => import("ai7/test"));

if (Number(process.versions.node.split(".")[0]) >= 22) await import("./ai-sdk-guards-across-turns.test.js");
else it.skip("AI SDK 7 needs Node 22 or later: its tests run in CI's Node 22 and 24 runs", () => {});
