/**
 * bulwark/chaos: fault injectors to chaos-test your own tools, the simulated agents and
 * the catalogue of incident scenarios that `bulwark chaos` replays, and the suite runner.
 */
export { createFaults, inject, malform, InjectedFault } from "./faults.js";
export type { Faults, FaultsOptions, Injector, MalformedKind, ToolFn, When } from "./faults.js";
export { seeded, seedFor } from "./random.js";
export type { Random } from "./random.js";
export { SimClock, SIM_START } from "./sim-clock.js";
export { SimAgent, bareHands, guardedHands, carelessHabits } from "./agent.js";
export type { Habits, Hands, Seen } from "./agent.js";
export { play } from "./scenario.js";
export type { EpisodeOptions, EpisodeResult, PlayOptions, Scenario, Stage } from "./scenario.js";
export * from "./scenarios/index.js";
export { PaymentApi } from "./scenarios/payment-lost-response.js";
export { runScenario, runSuite } from "./suite.js";
export type { ScenarioReport, SideReport, SuiteOptions, SuiteReport } from "./suite.js";
export { shape } from "./shape.js";
