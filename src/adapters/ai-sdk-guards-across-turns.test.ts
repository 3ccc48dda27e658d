/**
 * An AI SDK agent whose every turn runs in a new runtime, as a stateless request handler
 * (a serverless function, a worker after a restart) runs it: each turn opens the store,
 * resumes the conversation's run by its id, guards the tools for it, lets a scripted model
 * call them, and closes the runtime. The guards hold across turns only because the run's
 * state is in the store: on a memory store per turn, every turn would start a fresh run
 * with a fresh budget and no failures in a row, and each test below would fail.
 *
 * This file runs on AI SDK 6 (`ai`); ai-sdk-guards-across-turns.v7.test.ts runs it again on
 * AI SDK 7, on a Node that AI SDK 7 supports.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateText, stepCountIs, tool } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { createRuntime, type PolicyInput } from "bulwark";
import { guardTools, type ToolFailure } from "bulwark/ai-sdk";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";

type CallOptions = Parameters<MockLanguageModelV3["doGenerate"]>[0];
type Prompt = CallOptions["prompt"];
type Content = Awaited<ReturnType<MockLanguageModelV3["doGenerate"]>>["content"][number];

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

let ids = 0;
const call = (toolName: string, input: unknown): Content => ({ type: "tool-call", toolCallId: `tc_${++ids}`, toolName, input: JSON.stringify(input) });

/** A model that makes the calls of each step in turn (a step's calls in parallel), then answers; it keeps the prompts it was sent. */
function scripted(steps: Content[][]) {
  const prompts: Prompt[] = [];
  const model = new MockLanguageModelV3({
    doGenerate: async (options: CallOptions) => {
      prompts.push(options.prompt);
      const calls = steps[prompts.length - 1];
      if (calls) return { content: calls, finishReason: { unified: "tool-calls", raw: undefined }, usage, warnings: [] };
      return { content: [{ type: "text", text: "done" }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] };
    },
  });
  return { model, prompts };
}

/** The tool results in a prompt, in order, as values: in a turn's last prompt, the results of all its calls, as the model read them. */
function resultsSeen(prompt: Prompt | undefined): unknown[] {
  const parts = (prompt ?? []).flatMap((m) => (m.role === "tool" ? m.content.filter((p) => p.type === "tool-result") : []));
  return parts.map((p) => (p.output.type === "json" || p.output.type === "text" ? p.output.value : p.output));
}

const dir = mkdtempSync(join(tmpdir(), "bulwark-ai-sdk-turns-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let conversations = 0;

/** The agent's tools, guarded once (where they are defined); what they did to the world. */
function opsAgent() {
  const dropped: string[] = [];
  let lookups = 0;
  const dropTable = tool({
    description: "Drop a database table",
    inputSchema: z.object({ table: z.string() }),
    execute: async ({ table }) => (dropped.push(table), { dropped: table }),
  });
  const lookupTable = tool({
    description: "Look up a table's size",
    inputSchema: z.object({ table: z.string() }),
    execute: async ({ table }) => {
      // The first lookup answers; the metrics service is down after that.
      if (++lookups > 1) throw new Error("metrics service answered 503");
      return { table, rows: 1_200 };
    },
  });
  const tools = guardTools({
    // Read-your-writes: each drop is verified, so no verification gate stands in the way of the budget.
    drop_table: { tool: dropTable, effect: "destructive", verify: async ({ table }) => dropped.includes(table) },
    lookup_table: { tool: lookupTable, effect: "read", retry: false },
  });
  return { dropped, tools };
}

/** A conversation on its own SQLite file, and one of its turns: a new runtime, the run resumed by id, one generation, the runtime closed. */
function conversation(policy: PolicyInput) {
  const store = `sqlite:${join(dir, `c-${++conversations}.db`)}`;
  const conversationId = `conv-${conversations}`;
  const agent = opsAgent();
  async function turn(...steps: Content[][]) {
    const rt = createRuntime({ store, policy });
    try {
      const run = rt.startRun({ agent: "ops-agent", runId: conversationId });
      await run.ready();
      const before = { mode: run.mode, destructive: run.destructive };
      const { model, prompts } = scripted(steps);
      await generateText({ model, tools: agent.tools.for(run), stopWhen: stepCountIs(5), prompt: "Clean up the old tables" });
      return { before, seen: resultsSeen(prompts.at(-1)), after: { mode: run.mode, reason: run.reason } };
    } finally {
      await rt.close();
    }
  }
  /** A person's review of the run's changes, from yet another runtime. */
  async function review(by: string) {
    const rt = createRuntime({ store });
    try {
      return await rt.reviewRun(conversationId, { by });
    } finally {
      await rt.close();
    }
  }
  return { ...agent, turn, review };
}

const drop = (table: string) => call("drop_table", { table });
const kinds = (seen: unknown[]) => seen.map((r) => (r as Partial<ToolFailure>).error ?? "ok");

describe("an AI SDK conversation whose every turn is a new runtime on one SQLite store", () => {
  it("5 turns ask for 7 drops under a budget of 3: exactly 3 run, and every later result tells the model the budget is spent", async () => {
    // The chain breaker is set out of the way: this is about the budget alone.
    const c = conversation({ destructive: { maxPerRun: 3 }, maxConsecutiveFailures: 100 });

    const t1 = await c.turn([drop("logs_2023")]);
    const t2 = await c.turn([drop("logs_2024"), drop("tmp_import")]);
    const t3 = await c.turn([drop("audit_old")]);
    const t4 = await c.turn([drop("sessions_old"), drop("cache_old")]);
    const t5 = await c.turn([drop("users")]);

    expect([...c.dropped].sort()).toEqual(["logs_2023", "logs_2024", "tmp_import"]);
    expect([t1, t2, t3, t4, t5].map((t) => kinds(t.seen))).toEqual([
      ["ok"],
      ["ok", "ok"],
      ["destructive_budget_exceeded"],
      ["read_only", "read_only"],
      ["read_only"],
    ]);
    // Each turn's new runtime found what the turns before it left.
    expect(t2.before).toMatchObject({ mode: "normal", destructive: { used: 1, max: 3 } });
    expect(t3.before).toMatchObject({ mode: "normal", destructive: { used: 3, max: 3 } });
    expect(t4.before).toMatchObject({ mode: "read_only", destructive: { used: 3 } });
    // What the model reads: the budget is spent and a person must review the changes.
    expect((t3.seen[0] as ToolFailure).message).toContain("this run has already made 3 destructive changes, its limit");
    for (const r of [...t4.seen, ...t5.seen]) expect((r as ToolFailure).message).toContain("its destructive budget (3) is used up; a person must review");
    expect(t5.after).toMatchObject({ mode: "read_only" });

    // A person's review, recorded from another runtime, renews the budget for the next turn.
    await c.review("ada");
    const t6 = await c.turn([drop("cache_old")]);
    expect(t6.before).toMatchObject({ mode: "normal", destructive: { used: 0, max: 3 } });
    expect(kinds(t6.seen)).toEqual(["ok"]);
    expect(c.dropped).toHaveLength(4);
  });

  it("a run halted by the chain breaker in turn 2 (its failures in a row began in turn 1) is still halted in turn 3: the drop never runs", async () => {
    const c = conversation({ maxConsecutiveFailures: 2 });
    const lookup = (table: string) => call("lookup_table", { table });

    // Turn 1: the metrics service answers once, then is down: one failure in a row.
    const t1 = await c.turn([lookup("logs_2023")], [lookup("logs_2024")]);
    expect(kinds(t1.seen)).toEqual(["ok", "tool_error"]);
    expect(t1.after.mode).toBe("normal");

    // Turn 2, a new runtime: the second failure in a row halts the run; the model's drop is refused.
    const t2 = await c.turn([lookup("logs_2024")], [drop("logs_2024")]);
    expect(kinds(t2.seen)).toEqual(["tool_error", "run_halted"]);
    expect(t2.after).toEqual({ mode: "halted", reason: "the last 2 calls failed (lookup_table: tool_error, lookup_table: tool_error)" });

    // Turn 3, another new runtime: still halted, reads and drops alike.
    const t3 = await c.turn([drop("logs_2024")], [lookup("users")]);
    expect(t3.before.mode).toBe("halted");
    expect(kinds(t3.seen)).toEqual(["run_halted", "run_halted"]);
    expect((t3.seen[0] as ToolFailure).message).toContain("the last 2 calls failed");
    expect(c.dropped).toEqual([]);
  });
});
