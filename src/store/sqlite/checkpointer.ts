/**
 * The SQLite store's background checkpointer: a worker thread (checkpoint-worker.ts)
 * copies the WAL back into the database file, so that commits do not pay for it. The store's
 * own connection checkpoints inline (SQLite's default) until the worker is up, if it cannot
 * start or dies, and as a backstop past BACKSTOP_CHECKPOINT_PAGES.
 */
import { Worker } from "node:worker_threads";
import type { Db } from "./driver.js";
import type { CheckpointerCommand, CheckpointerData, CheckpointerMessage } from "./checkpoint-worker.js";

/** SQLite's own threshold (pages of 4 KiB), kept for "inline" and until the worker is up. */
const INLINE_CHECKPOINT_PAGES = 1000;
/** With a background checkpointer: a commit checkpoints only past this many WAL pages. */
const BACKSTOP_CHECKPOINT_PAGES = 4000;

/**
 * The worker to start. In the built package its entry is the `.js` file beside this one. From
 * source (tsx and vitest run this file as `.ts`) it is the `.ts` file, which a worker can load
 * only through a TypeScript loader: it does not inherit vitest's transform, and on Node 20 a
 * loader given in `execArgv` does not reach a worker's entry. So a one-line bootstrap
 * registers tsx's loader (a dev dependency, present wherever the source runs) and imports it.
 */
function startWorker(workerData: { checkpointer: CheckpointerData }): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./checkpoint-worker.js", here), { workerData });
  const entry = new URL("./checkpoint-worker.ts", here).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export class Checkpointer {
  private worker: Worker | undefined;
  private closing: Promise<void> | undefined;
  /** The worker has opened its connection and checkpoints. */
  private ready = false;

  constructor(db: Db, o: Omit<CheckpointerData, "driver">) {
    const checkpointer: CheckpointerData = { ...o, driver: db.driver };
    try {
      this.worker = startWorker({ checkpointer });
    } catch {
      return; // inline checkpoints, as SQLite does by default
    }
    const w = this.worker;
    w.unref();
    const inline = () => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
    };
    w.on("message", (m: CheckpointerMessage) => {
      if (!("ready" in m)) return;
      this.ready = true;
      if (db.open && this.worker === w) db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    });
    w.on("error", () => {
      this.worker = undefined;
      inline();
    });
    w.on("exit", () => {
      if (this.worker === w) {
        this.worker = undefined;
        inline();
      }
    });
  }

  /**
   * Stop the worker and close its connection (before the store's own, so that the last close
   * checkpoints). A worker not yet up has checkpointed nothing: it is stopped at once rather
   * than waited for (from source, its start loads a TypeScript loader, a few hundred ms).
   */
  close(): Promise<void> {
    const w = this.worker;
    if (!w) return Promise.resolve();
    this.worker = undefined;
    return (this.closing ??= new Promise<void>((resolve) => {
      w.once("exit", () => resolve());
      w.ref(); // a close awaited keeps the process until the worker is gone
      if (!this.ready) return void w.terminate();
      w.postMessage("close" satisfies CheckpointerCommand);
      setTimeout(() => void w.terminate(), 2_000).unref();
    }));
  }
}
