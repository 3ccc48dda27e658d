/**
 * Secrets kept out: a tool called with a password and an API token, on a real SQLite
 * file, through the ledger, the approval queue, a handoff, a failure message, a span and
 * the log. The database file itself is searched for the secrets, byte for byte.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime, defineTool, ToolError } from "../src/index.js";
import { kindOf } from "./fixtures/runtime.js";

const PASSWORD = "hunter2-correct-horse";
const API_TOKEN = "sk-live-4eC39HqLyjWDarjtT1zdp7dc";
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function storeDir() {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-secrets-"));
  dirs.push(dir);
  return dir;
}

/** Every byte the SQLite store wrote (the database, its WAL), as text. */
const storeBytes = (dir: string) =>
  readdirSync(dir)
    .map((f) => readFileSync(join(dir, f)).toString("latin1"))
    .join("\n");

describe("secrets in arguments and errors", () => {
  it("are not in the ledger, the approval queue, a handoff, the database file, a failure message, a span or the log", async () => {
    const dir = storeDir();
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("test");
    const logged: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => void logged.push(a.map(String).join(" "));
    const rt = createRuntime({ store: `sqlite:${join(dir, "bulwark.db")}`, telemetry: { tracer, recordContent: true } });
    try {
      const login = defineTool({
        name: "set_db_login",
        effect: "write",
        retry: false,
        execute: async (a: { user: string; password: string; headers: { authorization: string } }) => ({ user: a.user }),
        verify: async () => true,
      });
      const deploy = defineTool({ name: "deploy", effect: "destructive", approval: "always", execute: async () => "deployed", verify: async () => true });
      const failing = defineTool({
        name: "call_api",
        effect: "write",
        retry: false,
        // An API that quotes the request back in its error, as many do.
        execute: async (a: { apiKey: string; password: string }) => {
          throw new ToolError(`401 from https://admin:${a.password}@api.example.com: key ${a.apiKey} revoked (Authorization: Bearer ${a.apiKey})`, { retryable: false });
        },
      });
      const run = rt.startRun({ agent: "ops-bot", runId: "run-secrets", policy: { maxConsecutiveFailures: 10 } });
      const args = { user: "app", password: PASSWORD, headers: { authorization: `Bearer ${API_TOKEN}` } };
      expect(kindOf(await run.call(login, args))).toBe("ok");
      expect(kindOf(await run.call(deploy, { service: "api", env: { DATABASE_URL: `postgres://app:${PASSWORD}@db/prod`, note: `token=${API_TOKEN}` } }))).toBe("approval_required");
      const failed = await run.call(failing, { apiKey: API_TOKEN, password: PASSWORD });
      expect(kindOf(failed)).toBe("tool_error");
      const handoff = await run.handOff("testing what a person sees");

      // What the store keeps and what the API shows.
      const [mutation] = await rt.store.mutations.list("run-secrets");
      expect(mutation!.args).toEqual({ user: "app", password: "[redacted]", headers: { authorization: "[redacted]" } });
      const [approval] = await rt.approvals.list();
      expect(approval!.args).toEqual({ service: "api", env: { DATABASE_URL: "postgres://app:[redacted]@db/prod", note: "token=[redacted]" } });
      const [stored] = await rt.store.handoffs.list({ runId: "run-secrets" });
      const seen = JSON.stringify({ mutation, approval, handoff, stored, failed, spans: exporter.getFinishedSpans().map((s) => [s.status, s.attributes, s.events]), logged });
      expect(seen).toContain("set_db_login"); // the calls are there…
      expect(seen).not.toContain(PASSWORD); // …their secrets are not
      expect(seen).not.toContain(API_TOKEN);
      expect(!failed.ok && failed.failure.message).toMatch(/^call_api failed: 401 from https:\/\/admin:\[redacted\]@api\.example\.com: key \[redacted\] revoked/);
      expect(exporter.getFinishedSpans().find((s) => s.name === "execute_tool call_api")!.status.message).toContain("[redacted]");
      // Content recording (opt-in) records the arguments, redacted.
      expect(exporter.getFinishedSpans().find((s) => s.name === "execute_tool set_db_login")!.attributes["gen_ai.tool.call.arguments"]).toContain('"password":"[redacted]"');
    } finally {
      await rt.close();
      console.warn = warn;
    }
    const bytes = storeBytes(dir);
    expect(bytes).toContain("set_db_login");
    expect(bytes).not.toContain(PASSWORD);
    expect(bytes).not.toContain(API_TOKEN);
  });

  it("keys and approvals bind to the arguments as sent: calls that differ only in a secret are two calls", async () => {
    const rt = createRuntime();
    const effects: string[] = [];
    const rotate = defineTool({ name: "rotate", effect: "write", execute: async (a: { password: string }) => void effects.push(a.password), verify: async () => true });
    const grant = defineTool({ name: "grant", effect: "write", approval: "always", execute: async () => "granted", verify: async () => true });
    const run = rt.startRun({ agent: "a" });
    await run.call(rotate, { password: "first-password" });
    const second = await run.call(rotate, { password: "second-password" });
    expect(second).toMatchObject({ ok: true, replayed: false });
    expect(effects).toEqual(["first-password", "second-password"]);

    // An approval of one secret does not let a call with another through, though both read "[redacted]".
    await run.call(grant, { token: "token-one-1234" });
    const [request] = await rt.approvals.list();
    await rt.approvals.approve(request!.id, { by: "ada" });
    expect(kindOf(await run.call(grant, { token: "token-two-5678" }))).toBe("approval_required");
    expect(kindOf(await run.call(grant, { token: "token-one-1234" }))).toBe("ok");
    await rt.close();
  });

  it("a tool's own redact hook masks what the defaults cannot know", async () => {
    const rt = createRuntime();
    const charge = defineTool({
      name: "charge_card",
      effect: "write",
      execute: async () => "charged",
      verify: async () => true,
      redact: (a: { card: string; cents: number }) => ({ ...a, card: `**** ${a.card.slice(-4)}` }),
    });
    const run = rt.startRun({ agent: "billing", runId: "r-card" });
    await run.call(charge, { card: "4242424242424242", cents: 100 });
    expect((await rt.store.mutations.list("r-card"))[0]!.args).toEqual({ card: "**** 4242", cents: 100 });
    expect(() => defineTool({ name: "x", effect: "read", execute: () => 1, redact: "yes" as never })).toThrow(/redact must be a function/);
    await rt.close();
  });
});
