import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memoryStore } from "../src/store/memory.js";
import { openStore } from "../src/store/open.js";
import { StoreUnavailableError } from "../src/store/types.js";
import { dropSchemas, pgAvailable, PG_URL, schemaPrefix } from "./fixtures/store-pg.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-open-"));
const prefix = schemaPrefix();
const up = await pgAvailable();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (up) await dropSchemas(prefix);
});

describe("openStore", () => {
  it("memory", async () => {
    const s = await openStore("memory");
    expect(s.kind).toBe("memory");
    await s.close();
  });

  it("a Store object is returned as is", async () => {
    const m = memoryStore();
    expect(await openStore(m)).toBe(m);
  });

  it("sqlite:<path> creates the directory and the file", async () => {
    const path = join(dir, ".bulwark", "bulwark.db");
    const s = await openStore(`sqlite:${path}`);
    expect(s.kind).toBe("sqlite");
    expect(existsSync(path)).toBe(true);
    await s.close();
  });

  it("sqlite::memory:", async () => {
    const s = await openStore("sqlite::memory:");
    expect(s.kind).toBe("sqlite");
    await s.close();
  });

  it("an unopenable SQLite path is a StoreUnavailableError at open", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const err = await openStore(`sqlite:${join(file, "x.db")}`).catch((e) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err.message).toMatch(/^cannot open SQLite at .*a-file\/x\.db: /);
  });

  it.each(["", "mysql://x", "sqlite:", "redis://localhost", "Memory"])("rejects %j, naming the accepted forms", async (spec) => {
    await expect(openStore(spec)).rejects.toThrow(/expected "memory", "sqlite:<path>", "sqlite::memory:", "postgres:\/\//);
  });

  it("rejects an object that is not a Store", async () => {
    await expect(openStore({} as never)).rejects.toThrow(/not a Store object/);
  });

  it("an unreachable PostgreSQL is a clear error at open, not a hang", async () => {
    const started = Date.now();
    await expect(openStore("postgres://postgres@127.0.0.1:1/test")).rejects.toThrow(
      /^cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test: connect ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it.skipIf(!up)("postgres:// and postgresql:// open a PostgreSQL store", async () => {
    for (const [i, scheme] of ["postgres:", "postgresql:"].entries()) {
      const url = PG_URL.replace(/^postgres(ql)?:/, scheme);
      const s = await openStore(`${url}?schema=${prefix}_${i}`);
      expect(s.kind).toBe("postgres");
      await s.close();
    }
  });
});
