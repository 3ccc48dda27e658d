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
import { postgresStore } from "../src/store/postgres/store.js";
import { sqliteStore } from "../src/store/sqlite/store.js";
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
  /** `loops` loops of `one` from the start signal for `ms`; the iterations completed. */
  const timed = async (loops: number, one: (w: number, i: number) => Promise<void>) => {
    let n = 0;
    await started();
    const deadline = Date.now() + ms;
    await Promise.all(
      Array.from({ length: loops }, async (_, w) => {
        for (let i = 0; Date.now() < deadline; i++) {
          await one(w, i);
          n++;
        }
      }),
    );
    return n;
  };
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
    // One synchronous loop: a synchronous driver has nothing in flight.
    let n = 0;
    await started();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) pair(callKey(tag, n++), Date.now());
    db.close();
    return n;
  }
  if (mode === "pg-raw") {
    const pool = new pg.Pool({ connectionString: PG_URL, max: Math.min(inflight, pgPool) });
    const text = `INSERT INTO "${target}".idempotency (scope, key, fingerprint, state, owner, run_id, lease_until, created_at, expires_at, outcome)
       VALUES ('bench', $1, 'fp', 'completed', 'o', 'r', $2, $3, $4, '{"ok":true,"value":{"id":"ch_1"}}')`;
    await pool.query("SELECT 1");
    const n = await timed(inflight, async (w, i) => {
      const now = Date.now();
      await pool.query({ name: "raw", text, values: [callKey(`${tag}-${w}`, i), now + 10_000, now, now + 60_000] });
    });
    await pool.end();
    return n;
  }
  const store: Store = mode.startsWith("sqlite") ? sqliteStore(target) : await postgresStore({ url: PG_URL, schema: target, max: pgPool });
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
    // Warm up (the run records, prepared statements, compiled code): about 200 calls a process.
    const warm = Math.ceil(200 / inflight);
    await Promise.all(runs.map(async (r) => { for (let i = 1; i <= warm; i++) await call(r, -i); }));
    const n = await timed(inflight, (w, i) => call(runs[w]!, i));
    await rt.close();
    return n;
  }
  const n = await timed(inflight, async (w, i) => {
    const now = Date.now();
    const key = callKey(`${tag}-${w}`, i);
    const r = await store.idempotency.claim({ scope: "bench", key, fingerprint: "fp", owner: key, runId: "r", now, leaseMs: 10_000, retentionMs: 60_000 });
    if (r.status !== "claimed") throw new Error(`unexpected ${r.status}`);
    if (!(await store.idempotency.complete("bench", key, key, { ok: true, value: { id: "ch_1" } }, now))) throw new Error("lost");
  });
  await store.close();
  return n;
}

/** Whether PostgreSQL answers at PG_URL. */
export async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Drop the bench's schemas. */
export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await c.end();
  }
}
