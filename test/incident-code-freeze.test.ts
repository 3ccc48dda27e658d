/**
 * The coding-agent incident, replayed on a real SQLite database: during a code freeze an
 * agent deleted a production database, ignored the instruction to stop, and said
 * rollback was impossible. With Bulwark the freeze is enforced at the tool boundary, the
 * insisting agent is halted, and the run's earlier writes roll back to the exact rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRuntime, defineTool, ManualClock, memoryStore } from "../src/index.js";
import type { Outcome, Tool } from "../src/index.js";

let dir: string;
let db: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-freeze-"));
  db = new Database(join(dir, "production.db"));
  db.exec(`
    CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, plan TEXT NOT NULL);
    CREATE TABLE invoices (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, cents INTEGER NOT NULL);
    INSERT INTO users VALUES (1, 'ada@example.com', 'pro'), (2, 'grace@example.com', 'free'), (3, 'alan@example.com', 'team');
    INSERT INTO invoices VALUES (10, 1, 4900), (11, 3, 19900);
  `);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const tables = () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
const snapshot = () => ({
  users: db.prepare("SELECT * FROM users ORDER BY id").all(),
  invoices: db.prepare("SELECT * FROM invoices ORDER BY id").all(),
});

/** The agent's tools, as a coding agent would have them. */
function tools() {
  const setPlan = defineTool({
    name: "set_plan",
    effect: "write",
    execute: async ({ id, plan }: { id: number; plan: string }) => {
      const before = db.prepare("SELECT plan FROM users WHERE id = ?").get(id) as { plan: string };
      db.prepare("UPDATE users SET plan = ? WHERE id = ?").run(plan, id);
      return { id, previous: before.plan };
    },
    verify: async ({ id, plan }) => (db.prepare("SELECT plan FROM users WHERE id = ?").get(id) as { plan: string }).plan === plan,
    compensate: async ({ id }, out) => void db.prepare("UPDATE users SET plan = ? WHERE id = ?").run(out.previous, id),
  });
  const addInvoice = defineTool({
    name: "add_invoice",
    effect: "write",
    execute: async ({ userId, cents }: { userId: number; cents: number }) => ({ id: Number(db.prepare("INSERT INTO invoices (user_id, cents) VALUES (?, ?)").run(userId, cents).lastInsertRowid) }),
    verify: async (_a, out) => db.prepare("SELECT 1 FROM invoices WHERE id = ?").get(out.id) !== undefined,
    compensate: async (_a, out) => void db.prepare("DELETE FROM invoices WHERE id = ?").run(out.id),
  });
  const dropTable = defineTool({
    name: "drop_table",
    effect: "destructive",
    execute: async ({ table }: { table: string }) => {
      db.exec(`DROP TABLE ${table === "users" ? "users" : "invoices"}`);
      return { dropped: table };
    },
  });
  const listTables = defineTool({ name: "list_tables", effect: "read", execute: async () => tables() });
  return { setPlan, addInvoice, dropTable, listTables };
}

type Caller = <I>(tool: Tool<I>, args: I) => Promise<Outcome<unknown> | unknown>;

/** A scripted agent that ignores failures and insists: it tries every drop several times. */
async function insistingAgent(call: Caller, declareFreeze: () => Promise<void>) {
  const t = tools();
  const log: string[] = [];
  const act = async <I>(tool: Tool<I>, args: I) => {
    try {
      const o = (await call(tool, args)) as Outcome<unknown> | undefined;
      log.push(`${tool.name}: ${o && typeof o === "object" && "ok" in o ? (o.ok ? "ok" : o.failure.kind) : "ok"}`);
    } catch (e) {
      log.push(`${tool.name}: threw ${(e as Error).message}`);
    }
  };
  await act(t.setPlan, { id: 2, plan: "pro" });
  await act(t.addInvoice, { userId: 2, cents: 4900 });
  await act(t.listTables, {});
  await declareFreeze(); // a person declares the code freeze while the run is in flight
  for (let attempt = 0; attempt < 3; attempt++) {
    await act(t.dropTable, { table: "users" });
    await act(t.dropTable, { table: "invoices" });
  }
  await act(t.listTables, {});
  return log;
}

describe("incident: the coding agent during a code freeze", () => {
  it("bare agent (tools called directly): the freeze is only words, and the table is gone", async () => {
    let frozen = false;
    await insistingAgent((tool, args) => tool.spec.execute(args, { runId: "bare", callId: "c", attempt: 1, signal: new AbortController().signal }), async () => {
      frozen = true;
    });
    expect(frozen).toBe(true);
    expect(tables()).not.toContain("users");
    expect(tables()).not.toContain("invoices");
  });

  it("with Bulwark: nothing is dropped, the run halts on the freeze, and its earlier writes roll back to the exact prior rows", async () => {
    const before = snapshot();
    const clock = new ManualClock();
    const rt = createRuntime({ clock, store: memoryStore(), onError: (e) => { throw e; } });
    const run = rt.startRun({ agent: "coding-agent" });

    const log = await insistingAgent((tool, args) => run.call(tool, args), async () => {
      await rt.freeze("code freeze: release 7.3 in progress, no changes", { by: "jason" });
    });

    // The writes before the freeze went through and were verified.
    expect(log.slice(0, 3)).toEqual(["set_plan: ok", "add_invoice: ok", "list_tables: ok"]);
    expect((db.prepare("SELECT plan FROM users WHERE id = 2").get() as { plan: string }).plan).toBe("pro");
    // Nothing was dropped: the first drops were refused as frozen, then the insisting run was halted.
    expect(tables()).toEqual(["invoices", "users"]);
    expect(log.slice(3, 5)).toEqual(["drop_table: frozen", "drop_table: frozen"]);
    expect(log.slice(5).every((l) => l === "drop_table: run_halted" || l === "list_tables: run_halted")).toBe(true);
    expect(run.mode).toBe("halted");
    expect(run.reason).toMatch(/drop_table: frozen/);

    // Rollback is possible, and says exactly what it did.
    const report = await run.rollback();
    expect(report.complete).toBe(true);
    expect(report.undone.map((s) => s.tool)).toEqual(["add_invoice", "set_plan"]);
    expect(snapshot()).toEqual(before);
  });

  it("a stop from another process halts the run before its next change", async () => {
    const clock = new ManualClock();
    const store = memoryStore();
    const rt = createRuntime({ clock, store, onError: (e) => { throw e; } });
    const operator = createRuntime({ clock, store });
    const run = rt.startRun({ agent: "coding-agent" });
    const log = await insistingAgent((tool, args) => run.call(tool, args), async () => {
      await operator.stopRun(run.id, "STOP. Do not touch production.");
    });
    expect(tables()).toEqual(["invoices", "users"]);
    expect(log.slice(3).every((l) => l.endsWith("run_halted"))).toBe(true);
    expect(run.reason).toContain("STOP. Do not touch production.");
  });
});
