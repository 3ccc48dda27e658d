import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeStoreConformance } from "./conformance.js";
import { sqliteStore } from "./sqlite.js";
import { StoreUnavailableError } from "./types.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreConformance("sqlite (file, group commit)", () => sqliteStore(join(dir, `c${n++}.db`)));
describeStoreConformance("sqlite (file, no group commit)", () => sqliteStore({ path: join(dir, `c${n++}.db`), groupCommit: false }));
describeStoreConformance("sqlite (:memory:)", () => sqliteStore(":memory:"));
