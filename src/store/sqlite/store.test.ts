import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { describeStoreConformance } from "../conformance.js";
import { sqliteStore } from "./store.js";
import { hasNodeSqlite, isBusy } from "./driver.js";
import { StoreUnavailableError } from "../types.js";
import { freshRun } from "../../run-record.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreConformance("sqlite (file, group commit)", () => sqliteStore(join(dir, `c${n++}.db`)));
describeStoreConformance("sqlite (file, no group commit)", () => sqliteStore({ path: join(dir, `c${n++}.db`), groupCommit: false }));
describeStoreConformance("sqlite (:memory:)", () => sqliteStore(":memory:"));
describeStoreConformance("sqlite (file, background checkpoints)", () => sqliteStore({ path: join(dir, `c${n++}.db`), checkpoint: "background" }));
// Node's built-in driver, where this Node has one (22.16+; CI runs the suite on 22 and 24).
if (hasNodeSqlite()) {
  describeStoreConformance("sqlite (file, node:sqlite)", () => sqliteStore({ path: join(dir, `c${n++}.db`), driver: "node:sqlite" }));
  describeStoreConformance("sqlite (:memory:, node:sqlite)", () => sqliteStore({ path: ":memory:", driver: "node:sqlite" }));
}

/**
 * The statements better-sqlite3 runs from now until `stop()`, each marked "alone: " when it
 * runs outside a transaction (it then takes the file's locks itself).
 */
async function countStatements(): Promise<string[] & { stop(): void }> {
  const Database = (await import("better-sqlite3")).default;
  const probe = new Database(":memory:");
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<"run" | "get" | "all", (...a: unknown[]) => unknown>;
  probe.close();
  const seen: string[] = [];
  const spies = (["run", "get", "all"] as const).map((m) => {
    const original = proto[m];
    return vi.spyOn(proto, m).mockImplementation(function (this: { source: string; database: { inTransaction: boolean } }, ...a: unknown[]) {
      seen.push(this.database.inTransaction || this.source.startsWith("BEGIN") ? this.source : `alone: ${this.source}`);
      return original.apply(this, a);
    });
  });
  return Object.assign(seen, { stop: () => spies.forEach((spy) => spy.mockRestore()) });
}

describe("SQLite store", () => {
  const req = { scope: "t", key: "k", fingerprint: "f", runId: "r", now: 1, leaseMs: 60_000, retentionMs: 60_000 };

  it("a waiter is woken by a commit from another connection (another process)", async () => {
    const path = join(dir, "wake.db");
    const a = sqliteStore(path);
    const b = sqliteStore(path);
    try {
      await a.idempotency.claim({ ...req, owner: "a" });
      expect((await b.idempotency.claim({ ...req, owner: "b" })).status).toBe("in_flight");
      const started = Date.now();
      const w = b.idempotency.waitForChange("t", "k", 10_000);
      setTimeout(() => void a.idempotency.complete("t", "k", "a", { ok: true, value: 1 }, 2), 50);
      await w;
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((await b.idempotency.claim({ ...req, owner: "b", now: 3 })).status).toBe("completed");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("a change between the in_flight claim and the wait is not missed", async () => {
    const path = join(dir, "gap.db");
    const a = sqliteStore(path);
    const b = sqliteStore(path);
    try {
      await a.idempotency.claim({ ...req, owner: "a" });
      expect((await b.idempotency.claim({ ...req, owner: "b" })).status).toBe("in_flight");
      await a.idempotency.release("t", "k", "a");
      const started = Date.now();
      await b.idempotency.waitForChange("t", "k", 10_000);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("locked beyond the busy timeout: StoreUnavailableError, and the store works again after", async () => {
    const path = join(dir, "busy.db");
    const s = sqliteStore({ path, busyTimeoutMs: 100 });
    const Database = (await import("better-sqlite3")).default;
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    try {
      const err = await s.idempotency.claim({ ...req, owner: "a" }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(err.message).toMatch(/locked|busy/i);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect((await s.idempotency.claim({ ...req, owner: "a" })).status).toBe("claimed");
    await s.close();
  });

  it("group commit: many concurrent writes settle with their own results", async () => {
    const s = sqliteStore(join(dir, "group.db"));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => s.idempotency.claim({ ...req, key: `k${i % 50}`, owner: `o${i}` })),
    );
    expect(results.filter((r) => r.status === "claimed")).toHaveLength(50);
    expect(results.filter((r) => r.status === "in_flight")).toHaveLength(150);
    await s.close();
  });

  it("one failing write in a batch does not fail the others", async () => {
    const s = sqliteStore(join(dir, "bad.db"));
    const bad = { ...req, owner: "x", key: "bad", fingerprint: null as unknown as string }; // NOT NULL violation
    const [good1, failed, good2] = await Promise.allSettled([
      s.idempotency.claim({ ...req, key: "g1", owner: "a" }),
      s.idempotency.claim(bad),
      s.idempotency.claim({ ...req, key: "g2", owner: "a" }),
    ]);
    expect(good1).toMatchObject({ status: "fulfilled", value: { status: "claimed" } });
    expect(good2).toMatchObject({ status: "fulfilled", value: { status: "claimed" } });
    expect(failed.status).toBe("rejected");
    expect(await s.idempotency.get("t", "bad")).toBeUndefined();
    await s.close();
  });

  it("a freeze read asked with a turn's writes runs in their transaction: no statement alone, one commit", async () => {
    const s = sqliteStore(join(dir, "freeze-read.db"));
    const seen = await countStatements();
    try {
      const [freezes, claim] = await Promise.all([s.freezes.list(), s.idempotency.claim({ ...req, owner: "a" }), s.freezes.put({ id: "f", at: 1 })]);
      expect(freezes).toEqual([]);
      expect(claim.status).toBe("claimed");
      expect(seen.filter((x) => x.startsWith("alone"))).toEqual([]);
      expect(seen.filter((x) => x === "COMMIT")).toHaveLength(1);
      // In arrival order: a read after a write of its turn sees it.
      const [, after] = await Promise.all([s.freezes.lift("f"), s.freezes.list()]);
      expect(after).toEqual([]);
      // A turn of reads alone takes no write lock: another connection holding it does not delay them.
      const Database = (await import("better-sqlite3")).default;
      const other = new Database(join(dir, "freeze-read.db"));
      other.exec("BEGIN IMMEDIATE");
      try {
        expect(await s.freezes.list()).toEqual([]);
      } finally {
        other.exec("ROLLBACK");
        other.close();
      }
    } finally {
      seen.stop();
      await s.close();
    }
  });

  it("a claim of a key not yet stored is one statement: no read of the key before it", async () => {
    const s = sqliteStore(join(dir, "fresh-claim.db"));
    await s.runs.create(freshRun("r", "bot", 1));
    const seen = await countStatements();
    try {
      expect(await s.idempotency.claim({ ...req, owner: "a" })).toMatchObject({ status: "claimed", stop: null });
      expect(seen.filter((x) => x.includes("idempotency"))).toEqual([expect.stringMatching(/^INSERT INTO idempotency\s.*ON CONFLICT \(scope, key\) DO NOTHING$/s)]);
    } finally {
      seen.stop();
      await s.close();
    }
  });

  it("migrations are recorded once; reopening applies nothing new", async () => {
    const path = join(dir, "mig.db");
    await Promise.all([sqliteStore(path).close(), sqliteStore(path).close()]);
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all()).toEqual([
      { version: 1, name: "initial" },
      { version: 2, name: "freezes" },
      { version: 3, name: "compact write path" },
      { version: 4, name: "unsettled claims and generations" },
      { version: 5, name: "alerts and monitors" },
      { version: 6, name: "shadow decisions" },
      { version: 7, name: "durable runs" },
      { version: 8, name: "unfinished claims by run" },
      { version: 9, name: "call journal" },
    ]);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("the background checkpointer copies commits into the database file, off the commit path", async () => {
    const path = join(dir, "ckpt.db");
    const s = sqliteStore({ path, checkpoint: "background", checkpointMs: 5 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.idempotency.claim({ ...req, key: `k${i}`, owner: "a" })));
    const Database = (await import("better-sqlite3")).default;
    // The database file alone (without its WAL) holds the rows once a checkpoint has run:
    // far too few pages for a commit to have checkpointed inline.
    const inFile = () => {
      const copy = join(dir, `ckpt-copy-${Math.random()}.db`);
      copyFileSync(path, copy);
      const db = new Database(copy);
      try {
        return db.prepare("SELECT count(*) FROM idempotency").pluck().get();
      } catch {
        return 0;
      } finally {
        db.close();
      }
    };
    const until = Date.now() + 5_000;
    while (inFile() !== 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(inFile()).toBe(50);
    await s.close();
  });

  it("migration 3 keeps the idempotency records and the ledger of a version 2 file", async () => {
    const path = join(dir, "v2.db");
    const Database = (await import("better-sqlite3")).default;
    const { sqliteMigrations } = await import("../migrations/sqlite.js");
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
    for (const m of sqliteMigrations.filter((m) => m.version <= 2)) {
      old.exec(m.sql);
      old.prepare("INSERT INTO schema_migrations VALUES (?, ?, ?)").run(m.version, m.name, "then");
    }
    old.prepare(
      `INSERT INTO idempotency (scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome)
       VALUES ('t', 'done', 'f', 'completed', 'a', 'r', 5, 1, 1e15, '{"ok":true,"value":7}')`,
    ).run();
    const m = (id: string, seq: number) => ({ id, runId: "r", seq, tool: "t", effect: "write", args: {}, output: null, compensable: false, status: "done", at: 1 });
    for (const [id, seq] of [["m1", 1], ["m2", 2]] as const)
      old.prepare("INSERT INTO mutations (id, run_id, run_seq, status, data) VALUES (?, 'r', ?, 'done', ?)").run(id, seq, JSON.stringify(m(id, seq)));
    old.close();

    const s = sqliteStore(path);
    expect(await s.idempotency.get("t", "done")).toMatchObject({ state: "completed", outcome: { ok: true, value: 7 } });
    expect((await s.idempotency.claim({ ...req, key: "done", owner: "b", now: 2 })).status).toBe("completed");
    await s.mutations.record(m("m3", 3) as never);
    expect((await s.mutations.list("r")).map((x) => x.id)).toEqual(["m1", "m2", "m3"]);
    await s.close();
  });

  it("the file deleted under an open store: the next write fails closed, naming the path; so does every call after", async () => {
    const path = join(dir, "deleted.db");
    const s = sqliteStore(path);
    try {
      expect((await s.idempotency.claim({ ...req, owner: "a" })).status).toBe("claimed");
      rmSync(path);
      await new Promise((r) => setTimeout(r, 5)); // past the 1 ms a stat found the same stands
      const message = `the database file at ${path} was deleted or replaced while the store was open (no file is at the path now); reopen the store`;
      await expect(s.breakers.put({ tool: "t" } as never)).rejects.toThrow(message);
      await expect(s.idempotency.claim({ ...req, key: "k2", owner: "a" })).rejects.toThrow(message);
      await expect(s.runs.get("x")).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await s.close();
    }
  });

  it("SQLITE_BUSY is told apart as each driver throws it (better-sqlite3's code, node:sqlite's extended errcode)", () => {
    for (const e of [{ code: "SQLITE_BUSY" }, { code: "SQLITE_BUSY_RECOVERY" }, { code: "ERR_SQLITE_ERROR", errcode: 5 }, { code: "ERR_SQLITE_ERROR", errcode: 261 }]) {
      expect(isBusy(Object.assign(new Error("database is locked"), e))).toBe(true);
    }
    for (const e of [{ code: "SQLITE_LOCKED" }, { code: "SQLITE_CONSTRAINT_NOTNULL" }, { code: "ERR_SQLITE_ERROR", errcode: 6 }, { errcode: 19 }]) {
      expect(isBusy(Object.assign(new Error("no"), e))).toBe(false);
    }
    expect(isBusy(undefined)).toBe(false);
    expect(isBusy("SQLITE_BUSY")).toBe(false);
  });

  it("a claim answers its run's stop from its own transaction, a stop made by another connection included", async () => {
    const path = join(dir, "claim-stop.db");
    const a = sqliteStore(path);
    const b = sqliteStore(path);
    try {
      await a.runs.create(freshRun("r", "bot", 1));
      expect(await a.idempotency.claim({ ...req, key: "k1", owner: "a" })).toMatchObject({ status: "claimed", stop: null });
      expect(await b.runs.requestStop("r", "enough", 5)).toBe(true);
      expect(await a.idempotency.claim({ ...req, key: "k2", owner: "a" })).toMatchObject({ status: "claimed", stop: { reason: "enough", at: 5 } });
      // A lapsed claim taken over is answered the same way; an unknown run has no stop.
      expect(await a.idempotency.claim({ ...req, key: "k1", owner: "c", now: 120_000 })).toMatchObject({ status: "lease_expired", stop: { reason: "enough", at: 5 } });
      expect(await a.idempotency.claim({ ...req, key: "k3", owner: "a", runId: "unknown" })).toMatchObject({ status: "claimed", stop: null });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("a closed store throws StoreUnavailableError", async () => {
    const s = sqliteStore(":memory:");
    await s.close();
    await expect(s.runs.get("x")).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
