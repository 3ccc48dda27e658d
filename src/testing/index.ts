/**
 * `bulwark/testing`: what a store written outside Bulwark runs to prove itself. The store
 * conformance suite declares vitest tests (vitest is an optional peer: install it where the
 * suite runs). Memory, SQLite and PostgreSQL pass the same suite.
 *
 * ```ts
 * import { describeStoreConformance } from "bulwark/testing";
 * describeStoreConformance(() => myStore());          // in a *.test.ts file
 * // A store that judges leases by its own clock (as PostgreSQL does):
 * describeStoreConformance("my store", () => myStore(), { leaseClock: "store" });
 * ```
 */
export { describeStoreConformance, type StoreConformanceOptions } from "../store/conformance.js";
