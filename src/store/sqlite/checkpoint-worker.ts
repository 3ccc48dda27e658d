/**
 * The background checkpointer's thread: a second connection to the store's file that copies
 * the WAL back into the database every `everyMs`. Started by `Checkpointer` (checkpointer.ts)
 * as a worker thread's entry point, with `{ checkpointer: CheckpointerData }` as its data; imported
 * anywhere else (the store imports only its types) it does nothing.
 *
 * Its connection uses the store's driver and `synchronous`, so a checkpoint syncs the WAL
 * before copying it and the database after, exactly as the commit's own would. PASSIVE
 * never waits for, nor blocks, readers or writers: what it cannot copy now it copies next time.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openDatabase, type SqliteDriver } from "./driver.js";

/** What the store tells its checkpointer. */
export interface CheckpointerData {
  path: string;
  driver: SqliteDriver;
  synchronous: "NORMAL" | "FULL";
  busyTimeoutMs: number;
  everyMs: number;
}

/** What the checkpointer tells the store: it is up, or a checkpoint failed (it goes on). */
export type CheckpointerMessage = { ready: true } | { error: string };

/** The message that stops it: its connection is closed, then its port. */
export type CheckpointerCommand = "close";

/** A caught-up checkpoint that found more than this many WAL pages goes again at once. */
const BACKLOG_PAGES = 2000;

/** The row of `PRAGMA wal_checkpoint`. */
interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

function checkpointer(port: NonNullable<typeof parentPort>, o: CheckpointerData) {
  const db = openDatabase(o.path, { timeoutMs: o.busyTimeoutMs, driver: o.driver });
  db.pragma(`synchronous = ${o.synchronous}`);
  db.pragma("wal_autocheckpoint = 0");
  const checkpoint = db.prepare<[], CheckpointResult>("PRAGMA wal_checkpoint(PASSIVE)");
  const post = (m: CheckpointerMessage) => port.postMessage(m);
  let timer: NodeJS.Timeout;
  const tick = () => {
    try {
      const r = checkpoint.get();
      const backlog = r !== undefined && r.busy === 0 && r.log > BACKLOG_PAGES && r.checkpointed === r.log;
      timer = setTimeout(tick, backlog ? 0 : o.everyMs);
    } catch (e) {
      post({ error: e instanceof Error ? e.message : String(e) });
      timer = setTimeout(tick, o.everyMs);
    }
  };
  port.on("message", (m: unknown) => {
    if (m !== ("close" satisfies CheckpointerCommand)) return;
    clearTimeout(timer);
    try {
      db.close();
    } finally {
      port.close();
    }
  });
  post({ ready: true });
  timer = setTimeout(tick, o.everyMs);
}

const data = (workerData as { checkpointer?: CheckpointerData } | null)?.checkpointer;
if (parentPort && data) checkpointer(parentPort, data);
