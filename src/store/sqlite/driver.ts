/**
 * The SQLite connection under the SQLite store: better-sqlite3 where it is installed (an
 * optional peer; the driver on Node 20), else Node's built-in `node:sqlite` (Node 22.16
 * and later), so that on a current Node the SQLite store needs nothing compiled.
 * `sqliteStore({ driver })` chooses one explicitly.
 *
 * Written by hand because the store uses a small synchronous subset that both drivers
 * have under different names (better-sqlite3's `pragma` and `pluck`, node:sqlite's
 * `isTransaction`); no library bridges the two.
 */
import { createRequire } from "node:module";
import { requirePeer } from "../../optional.js";

/** A prepared statement, typed by its parameters and its row (as better-sqlite3 types them). */
export interface Statement<Params extends unknown[] = unknown[], Row = unknown> {
  run(...params: Params): { changes: number; lastInsertRowid: number | bigint };
  get(...params: Params): Row | undefined;
  all(...params: Params): Row[];
  /** The same statement, answering the first column's value instead of a row (`Row` is then that value's type, as in better-sqlite3). */
  pluck(): Statement<Params, Row>;
}

export interface Db {
  readonly driver: "better-sqlite3" | "node:sqlite";
  readonly open: boolean;
  readonly inTransaction: boolean;
  /** `Params` is a tuple of positional parameters or one object of named ones. */
  prepare<Params extends unknown[] | object = unknown[], Row = unknown>(sql: string): Statement<Params extends unknown[] ? Params : [Params], Row>;
  exec(sql: string): void;
  /** Run `PRAGMA <setting>`; answers its first row, if any. */
  pragma(setting: string): unknown;
  close(): void;
}

type BetterSqlite = typeof import("better-sqlite3");

/** The part of `node:sqlite` used here (Node 20's types do not have the module). */
interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface NodeDatabase {
  readonly isOpen: boolean;
  readonly isTransaction: boolean;
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}
interface NodeSqlite {
  DatabaseSync: new (path: string) => NodeDatabase;
}

const require = createRequire(import.meta.url);

let builtIn: NodeSqlite | null | undefined;
function nodeSqlite(): NodeSqlite | undefined {
  if (builtIn === undefined) {
    try {
      const m = require("node:sqlite") as NodeSqlite;
      // isTransaction (22.16, 24.0) is the last of what the store needs to arrive; it is
      // an own property of a connection, so only a connection can tell.
      const probe = new m.DatabaseSync(":memory:");
      builtIn = typeof probe.isTransaction === "boolean" ? m : null;
      probe.close();
    } catch {
      builtIn = null;
    }
  }
  return builtIn ?? undefined;
}

function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

export type SqliteDriver = Db["driver"];

/**
 * Whether `e` is SQLite's SQLITE_BUSY (another connection holds the lock; the busy timeout
 * ran out): better-sqlite3 names it in `code` ("SQLITE_BUSY", "SQLITE_BUSY_RECOVERY"…),
 * node:sqlite gives the (extended) result code in `errcode`, whose low byte is 5.
 */
export function isBusy(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const { code, errcode } = e as { code?: unknown; errcode?: unknown };
  return (typeof code === "string" && code.startsWith("SQLITE_BUSY")) || (typeof errcode === "number" && (errcode & 0xff) === 5);
}

/** Whether this Node has a `node:sqlite` the store can use. */
export function hasNodeSqlite(): boolean {
  return nodeSqlite() !== undefined;
}

/**
 * Open `path` (":memory:" for a private in-memory database) with a busy timeout, on the
 * driver asked for, else better-sqlite3 where installed, else node:sqlite where this Node has it.
 */
export function openDatabase(path: string, o: { timeoutMs: number; driver?: SqliteDriver | undefined }): Db {
  const driver = o.driver ?? (installed("better-sqlite3") || !nodeSqlite() ? "better-sqlite3" : "node:sqlite");
  if (driver === "node:sqlite") {
    const m = nodeSqlite();
    if (!m) throw new Error(`node:sqlite needs Node 22.16 or later (this is ${process.version}); install better-sqlite3@12 instead`);
    return fromNodeSqlite(new m.DatabaseSync(path), o.timeoutMs);
  }
  const Database = requirePeer<BetterSqlite>("better-sqlite3", `The SQLite store on Node ${process.versions.node}`, "better-sqlite3@12");
  return fromBetterSqlite(new Database(path, { timeout: o.timeoutMs }));
}

function fromBetterSqlite(db: import("better-sqlite3").Database): Db {
  return {
    driver: "better-sqlite3",
    get open() {
      return db.open;
    },
    get inTransaction() {
      return db.inTransaction;
    },
    prepare: (sql) => db.prepare(sql) as never,
    exec: (sql) => void db.exec(sql),
    pragma: (setting) => (db.pragma(setting) as unknown[])[0],
    close: () => void db.close(),
  };
}

function fromNodeSqlite(db: NodeDatabase, timeoutMs: number): Db {
  db.exec(`PRAGMA busy_timeout = ${Math.floor(timeoutMs)}`);
  const wrap = (stmt: NodeStatement, pluck: boolean): Statement => {
    const first = (row: unknown) => (row === undefined ? undefined : Object.values(row as object)[0]);
    return {
      run: (...p) => {
        const r = stmt.run(...p);
        return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
      },
      get: (...p) => (pluck ? first(stmt.get(...p)) : stmt.get(...p)),
      all: (...p) => (pluck ? stmt.all(...p).map(first) : stmt.all(...p)),
      pluck: () => wrap(stmt, true),
    };
  };
  return {
    driver: "node:sqlite",
    get open() {
      return db.isOpen;
    },
    get inTransaction() {
      return db.isTransaction;
    },
    prepare: (sql) => wrap(db.prepare(sql), false) as never,
    exec: (sql) => db.exec(sql),
    pragma: (setting) => db.prepare(`PRAGMA ${setting}`).get(),
    close: () => db.close(),
  };
}
