/** Bulwark's public API. Re-exports only. */
export { createRuntime } from "./runtime.js";
export type { Runtime, RuntimeOptions, StartRunOptions } from "./runtime.js";
export { Run } from "./run.js";
export { defineTool, toolDefaults } from "./tool.js";
export type { Tool, ToolSpec, ToolContext, Effect, Fact, RetryOptions, BreakerOptions, KeyContext } from "./tool.js";
export { failures, ToolError } from "./failure.js";
export type { Failure, FailureKind, Outcome } from "./failure.js";
export { defaultPolicy, PolicyError } from "./policy.js";
export type { Policy, PolicyInput, FreezeWindow } from "./policy.js";
export { ManualClock, systemClock } from "./clock.js";
export type { Clock } from "./clock.js";
export { memoryStore } from "./store/memory.js";
export type * from "./store/types.js";
export { DriftDetector, driftDefaults, chiSquareSurvival } from "./telemetry/drift.js";
export type { DriftAlert, DriftCheck, DriftOptions } from "./telemetry/drift.js";
