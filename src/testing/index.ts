/**
 * `bulwark/testing`: what a store written outside Bulwark runs to prove itself. The store
 * conformance suite declares vitest tests (vitest is an optional peer: install it where the
 * suite runs). Memory, SQLite and PostgreSQL pass the same suite.
 *
 * ```ts
 * import { describeStoreConformance } from "bulwark/testing";
 * describeStoreConformance(() => myStore());          // in a *.test.ts file
 * ```
 */
export { describeStoreConformance, type StoreConformanceOptions } from "../store/conformance.js";
