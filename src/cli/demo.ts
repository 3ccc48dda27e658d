/**
 * `bulwark demo`: a short chaos pass on the embedded SQLite store, then the incidents
 * told step by step — what the agent tried, what Bulwark did, what the bare agent would
 * have done — and where to look next. A thin layer over `bulwark/chaos`.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Command } from "commander";
import { brownout, codeFreeze, decisionDrift, paymentLostResponse, processCrash, runSuite, scenarios as allScenarios, staleFaq, type Scenario } from "../chaos/index.js";
import { createRuntime, MissingPackageError } from "../index.js";
import { table } from "./chaos.js";
import { whole } from "./shared.js";

const out = (line = "") => process.stdout.write(`${line}\n`);

export function demoCommand(): Command {
  return new Command("demo")
    .description("see what Bulwark prevents: a short chaos pass, then the incidents told step by step")
    .option("--runs <n>", "seeded runs per scenario in the chaos pass", whole, 20)
    .action(async (flags: { runs: number }) => {
      process.exitCode = (await demo(flags.runs)) ? 0 : 1;
    });
}

async function demo(runs = 20): Promise<boolean> {
  const dir = stateDir();
  const noSqlite = await missingSqliteDriver(`sqlite:${join(dir, "demo.db")}`);
  const store = noSqlite ? "memory" : `sqlite:${join(dir, "demo.db")}`;
  // The process-crash scenario's world is a SQLite file of its own.
  const scenarios = noSqlite ? allScenarios.filter((s) => s !== processCrash) : allScenarios;
  if (noSqlite) {
    out(`(No SQLite library: ${noSqlite.message} Node 22.16 and later have one built in.`);
    out(" This demo runs on the memory store instead, without the process-crash scenario.)");
    out();
  }
  out("Bulwark is a reliability runtime for AI agents. Every tool call an agent makes goes");
  out("through it: retries with idempotency keys, circuit breakers, freezes and stops enforced");
  out("at the tool boundary, read-your-writes, and a ledger of facts with their sources.");
  out();
  out(`1. A chaos pass: ${scenarios.length} incident scenarios, ${runs} seeded runs each, played by a careless`);
  out("   simulated agent, once calling its tools directly and once through Bulwark.");
  out(`   (Bulwark's state: ${store.replace(process.cwd() + "/", "")})`);
  out();
  const report = await runSuite(scenarios, { runs, seed: 1, store });
  out(indent(table(report)));
  out("   added ms/call: the real time Bulwark added to each call of the healthy twins, on this SQLite");
  out("   store (opening and closing a store per episode is not counted).");
  out();

  out("2. What happened, step by step.");
  await story(
    "The payment that was charged twice",
    "An agent pays an invoice through a payment API whose answer is sometimes lost after the card was charged. It retries on any error, and later repeats itself, as models do. The tool forwards Bulwark's idempotency key to the API, which deduplicates like Stripe.",
    paymentLostResponse,
    store,
    [
      'const pay = defineTool({ name: "pay_invoice", effect: "write",',
      "  execute: (a, ctx) => api.charge(a.invoice, a.amountCents, ctx.idempotencyKey),",
      "  verify: (_a, _out, ctx) => api.chargedWith(ctx.idempotencyKey),   // read your write",
      "  retry: { maxAttempts: 4, baseDelayMs: 200 } });",
      "await run.call(pay, { invoice, amountCents });   // and again, later: replayed, not charged",
    ],
  );
  await story(
    "The dependency that was down",
    "The inventory service goes down while eight support sessions need it; each agent retries on any error. Bulwark's breaker is shared by every run.",
    brownout,
    store,
    [
      'const stock = defineTool({ name: "inventory_lookup", effect: "read", execute: (a) => inventory.lookup(a) });',
      "// eight sessions, eight runs of one runtime: the breaker of inventory_lookup is theirs together",
      'await rt.startRun({ agent: "support" }).call(stock, { sku });',
    ],
  );
  await story(
    "The bereavement fare",
    "A support bot answers from the FAQ it reads first; the policy page, updated since, says the opposite. Both pages declare the fact with its date. The run allows facts up to a year old (maxFactAgeMs): a call whose facts are older fails as stale_data, which tells the agent the value is too old to rely on and to fetch a fresh one; so it reads the policy page instead of answering from the FAQ.",
    staleFaq,
    store,
    [
      'const page = (name, authority) => defineTool({ name, effect: "read", execute: () => read(name),',
      '  facts: (out) => [{ key: "bereavement.claimAfterTravel", value: out.claimAfterTravel, source: name, asOf: out.updated, authority }] });',
      'const run = rt.startRun({ agent: "support-bot", policy: { maxFactAgeMs: 365 * DAY } });',
      'await run.verifyDecision({ text: answer, claims: [{ key: "bereavement.claimAfterTravel", value }] });',
    ],
  );
  if (!noSqlite) await story(
    "The transfer made twice after a crash",
    "An agent process moves money: its tool inserts a row in a bank's SQLite table, which takes no idempotency key. The process is killed (a real SIGKILL) after the row is written, before the outcome is recorded; a supervisor restarts the agent, which makes the same transfer again. Through Bulwark the key is the transfer id, shared by every process on the store, and the tool's verify probe looks for the row.",
    processCrash,
    store,
    [
      'const transfer = defineTool({ name: "make_transfer", effect: "write", retry: false,',
      "  idempotencyKey: (t) => t.transferId,              // one key in every process on the store",
      "  execute: (t) => bank.insert(t),",
      "  verify: (t) => bank.rows(t.transferId) > 0 });   // after a crash: did it land?",
    ],
  );
  await story(
    "The database deleted during a code freeze",
    "A coding agent has migrated rows of a production table when a freeze is declared. It keeps changing things, is told to stop, does not, and when asked to undo its migration says rollback is impossible. Through Bulwark the freeze and the stop are enforced at the tool boundary, and every change is in a ledger with its compensation.",
    codeFreeze,
    store,
    [
      'const migrate = defineTool({ name: "migrate_plans", effect: "write", execute: (a) => db.migrate(a),',
      "  compensate: (_a, out) => db.restore(out.changed) });   // how to undo it, kept in the ledger",
      'const drop = defineTool({ name: "drop_table", effect: "destructive", execute: (a) => db.drop(a.table) });',
      'await rt.freeze("code freeze");  await rt.stopRun(runId, "stop now");  await rt.rollback(runId);',
    ],
  );
  await story(
    "The refund agent whose decisions drifted",
    "A refund agent approves about half of the requests it sees; after a model update it approves nine in ten. No call fails, so nothing but the distribution of its decisions shows it. Through Bulwark the agent reports each decision and the runtime's monitor, kept in the store, compares the latest 200 with a baseline of its first 300 and raises an alert.",
    decisionDrift,
    store,
    [
      'run.observe("refund decision", decision);   // "approve" | "deny" | "escalate"',
      "// the runtime watches each agent's decisions (and tools, outcomes, verdicts, texts) against a baseline;",
      'const rt = createRuntime({ alerts: { webhook: { url, secret } } });   // drift is an alert, sent signed',
    ],
  );

  out("3. Where to look next.");
  out("   npx bulwark chaos --runs 1000        the full suite; --json for machines, --scenario <name> for one");
  if (!noSqlite) out(`   npx bulwark alerts --store ${store.replace(process.cwd() + "/", "")}   the alerts this demo raised`);
  out("   README.md                            wrap your own tools: defineTool, createRuntime, run.call");
  out('   import { createFaults } from "bulwark/chaos"   chaos-test your own tools with the same injectors');
  if (!noSqlite) out(`   ${relative(process.cwd(), dir) || "."}/demo.db${" ".repeat(Math.max(1, 28 - (relative(process.cwd(), dir) || ".").length))}what this demo recorded (runs, idempotency keys, breakers)`);
  return report.passed;
}

async function story(title: string, setting: string, scenario: Scenario, store: string, code: string[]) {
  out();
  out(`── ${title} ──`);
  out(wrap(setting));
  out();
  out("   The code, in short (src/chaos/scenarios/ has it whole):");
  for (const line of code) out(`     ${line}`);
  // The first seed where the bare agent causes the incident, so the story has one to tell.
  let seed = 1;
  while (seed < 200 && (await scenario.episode({ seed, guarded: false, faulty: true })).incidents === 0) seed++;
  for (const guarded of [false, true]) {
    const lines: string[] = [];
    const r = await scenario.episode({ seed, guarded, faulty: true, store, narrate: (l) => lines.push(l) });
    out();
    out(guarded ? "   Through Bulwark:" : "   Without Bulwark (tools called directly):");
    for (const l of lines) out(`   ${l}`);
    out(`   → in this run: ${r.incidents === 0 ? "no incident" : `${r.incidents} incident${r.incidents === 1 ? "" : "s"}`}${r.completed ? ", task done" : guarded ? ", the agent was stopped before doing harm" : ""}.`);
  }
  out();
}

/** The missing package, when the SQLite store cannot open for want of a driver (Node 20 without better-sqlite3). */
async function missingSqliteDriver(store: string): Promise<MissingPackageError | undefined> {
  const rt = createRuntime({ store });
  try {
    await rt.ready();
    return undefined;
  } catch (e) {
    for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) if (c instanceof MissingPackageError) return c;
    throw e;
  } finally {
    await rt.close().catch(() => {});
  }
}

/** `.bulwark/` under the current directory, or a temporary directory if that cannot be written. */
function stateDir(): string {
  try {
    const dir = join(process.cwd(), ".bulwark");
    mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return mkdtempSync(join(tmpdir(), "bulwark-demo-"));
  }
}

function indent(text: string) {
  return text
    .split("\n")
    .map((l) => `   ${l}`)
    .join("\n");
}

function wrap(text: string, width = 88) {
  const lines: string[] = [];
  let line = "  ";
  for (const word of text.split(" ")) {
    if (line.length + word.length + 1 > width) {
      lines.push(line);
      line = "  ";
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.join("\n");
}
