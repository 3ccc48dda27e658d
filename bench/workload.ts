/**
 * What one bench process does for `ms`: write calls through the runtime, bare claim+complete
 * pairs on the store, or the raw baseline beside them (SQLite: one bare better-sqlite3
 * transaction inserting and updating one idempotency row; PostgreSQL: one bare INSERT),
 * with `inflight` concurrent loops. Shared by bench/store.ts and bench/scaling.ts.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { canonicalJson, digest } from "../src/canonical-json.js";
import { createRuntime, defineTool } from "../src/index.js";
import { postgresStore } from "../src/store/postgres.js";
import { sqliteStore } from "../src/store/sqlite.js";
import type { Store } from "../src/store/types.js";

export const PG_URL = process.env.BULWARK_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A key shaped like a write call's own (run id, tool, digest of the arguments: see
 * stages/idempotency.ts), so that the raw baseline, the store pairs and the calls insert
 * keys spread the same way over the index; sequential keys would all land on its last page.
 */
export const callKey = (run: string, i: number) => `${run}:bench_write:${digest(canonicalJson({ k: i }))}`;

export type Mode = "sqlite-store" | "sqlite-raw" | "sqlite-calls" | "pg-store" | "pg-raw" | "pg-calls";

/**
 * Run `mode` for `ms` with `inflight` concurrent loops; returns completed pairs. `started`,
 * when given, is awaited once everything is set up, right before the clock starts (so
 * that processes set up at different speeds measure the same window).
 */
export async function work(mode: Mode, target: string, inflight: number, ms: number, tag: string, o: { started?: () => Promise<void>; pgPool?: number } = {}): Promise<number> {
  const started = o.started ?? (async () => {});
  const pgPool = o.pgPool ?? 10;
  let n = 0;
  const until = () => Date.now() < deadline;
  let deadline = 0;
  if (mode === "sqlite-raw") {
    const db = new Database(target, { timeout: 5_000 });
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const ins = db.prepare(
      `INSERT INTO idempotency (scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at)
       VALUES ('bench', ?, 'fp', 'in_flight', 'o', 'r', ?, ?, ?)`,
    );
    const upd = db.prepare("UPDATE idempotency SET state = 'completed', outcome = ? WHERE scope = 'bench' AND key = ?");
    const pair = db.transaction((key: string, now: number) => {
      ins.run(key, now + 10_000, now, now + 60_000);
      upd.run('{"ok":true,"value":{"id":"ch_1"}}', key);
    });
    await started();
    deadline = Date.now() + ms;
    while (until()) pair(callKey(tag, n++), Date.now());
    db.close();
    return n;
  }
  if (mode === "pg-raw") {
    const pool = new pg.Pool({ connectionString: PG_URL, max: Math.min(inflight, pgPool) });
    const text = `INSERT INTO "${target}".idempotency (scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome)
       VALUES ('bench', $1, 'fp', 'completed', 'o', 'r', $2, $3, $4, '{"ok":true,"value":{"id":"ch_1"}}')`;
    await pool.query("SELECT 1");
    await started();
    deadline = Date.now() + ms;
    await Promise.all(
      Array.from({ length: inflight }, async (_, w) => {
        for (let i = 0; until(); i++) {
          const now = Date.now();
          await pool.query({ name: "raw", text, values: [callKey(`${tag}-${w}`, i), now + 10_000, now, now + 60_000] });
          n++;
        }
      }),
    );
    await pool.end();
    return n;
  }
  const store: Store = mode.startsWith("sqlite")
    ? sqliteStore(target)
    : await postgresStore({ url: PG_URL, schema: target, max: pgPool });
  if (mode === "sqlite-calls" || mode === "pg-calls") {
    // What a user gets: a no-op write tool with a read-back, one run (agent) per loop.
    const rt = createRuntime({ store, policy: { maxSteps: 1e9 }, onError: (e) => console.error(e) });
    await rt.ready();
    const tool = defineTool({
      name: "bench_write",
      effect: "write",
      execute: async (a: { k: number }) => ({ id: `ch_${a.k}` }),
      verify: () => true,
    });
    const runs = Array.from({ length: inflight }, (_, w) => rt.startRun({ agent: "bench", runId: `${tag}-${w}` }));
    const call = async (run: (typeof runs)[number], k: number) => {
      const o = await run.call(tool, { k });
      if (!o.ok || o.replayed) throw new Error(`unexpected outcome ${JSON.stringify(o)}`);
    };
    await Promise.all(runs.map((r) => call(r, -1))); // warm up: the run records, prepared statements
    await started();
    deadline = Date.now() + ms;
    await Promise.all(
      runs.map(async (run) => {
        for (let i = 0; until(); i++) {
          await call(run, i);
          n++;
        }
      }),
    );
    await rt.close();
    return n;
  }
  await started();
    deadline = Date.now() + ms;
  await Promise.all(
    Array.from({ length: inflight }, async (_, w) => {
      for (let i = 0; until(); i++) {
        const now = Date.now();
        const key = callKey(`${tag}-${w}`, i);
        const r = await store.idempotency.claim({
          scope: "bench", key, fingerprint: "fp", owner: key, runId: "r", now, leaseMs: 10_000, retentionMs: 60_000,
        });
        if (r.status !== "claimed") throw new Error(`unexpected ${r.status}`);
        if (!(await store.idempotency.complete("bench", key, key, { ok: true, value: { id: "ch_1" } }, now))) throw new Error("lost");
        n++;
      }
    }),
  );
  await store.close();
  return n;
}

