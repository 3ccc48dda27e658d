/**
 * The AI SDK adapter with the real AI SDK: generateText's multi-step loop against a
 * scripted mock model. The assertions are on what the model receives in its prompt (the
 * tool result messages), since that is what the model acts on.
 *
 * This file runs on AI SDK 6 (`ai`); ai-sdk.v7.test.ts runs it again with `ai` resolving to
 * AI SDK 7, on a Node that AI SDK 7 supports.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as ai from "ai";
import { generateText, jsonSchema, stepCountIs, tool, type ModelMessage } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { bulwarkContext, guardTools, isToolFailure, type ToolFailure } from "bulwark/ai-sdk";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { closedAfterEach, runAddSnippet } from "../../test/fixtures/adapters.js";
import { exampleDir, readmeExample, runExample } from "../../test/fixtures/readme.js";

type LanguageModelV3CallOptions = Parameters<MockLanguageModelV3["doGenerate"]>[0];
type LanguageModelV3Prompt = LanguageModelV3CallOptions["prompt"];
type LanguageModelV3Content = Awaited<ReturnType<MockLanguageModelV3["doGenerate"]>>["content"][number];

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

type Step = LanguageModelV3Content[] | string;

/** A model that plays `steps` in order (tool calls or a final text) and keeps every prompt it was sent. */
function scripted(steps: Step[]) {
  const prompts: LanguageModelV3Prompt[] = [];
  const model = new MockLanguageModelV3({
    doGenerate: async (options: LanguageModelV3CallOptions) => {
      prompts.push(options.prompt);
      const step = steps[prompts.length - 1] ?? "done";
      const content: LanguageModelV3Content[] = typeof step === "string" ? [{ type: "text", text: step }] : step;
      const calls = content.some((c) => c.type === "tool-call");
      return { content, finishReason: { unified: calls ? "tool-calls" : "stop", raw: undefined }, usage, warnings: [] };
    },
  });
  return { model, prompts };
}

let ids = 0;
const call = (toolName: string, input: unknown): LanguageModelV3Content => ({
  type: "tool-call",
  toolCallId: `tc_${++ids}`,
  toolName,
  input: JSON.stringify(input),
});

/** The tool results in a prompt, in order, as the model receives them. */
function toolResults(prompt: LanguageModelV3Prompt | undefined) {
  return (prompt ?? []).flatMap((m) => (m.role === "tool" ? m.content.filter((p) => p.type === "tool-result") : []));
}
/** The value of the model's last tool result in a prompt (json or text output). */
function lastResult(prompt: LanguageModelV3Prompt | undefined): unknown {
  const out = toolResults(prompt).at(-1)?.output;
  if (!out) return undefined;
  return out.type === "json" || out.type === "text" || out.type === "error-text" || out.type === "error-json" ? out.value : out;
}

const runtime = closedAfterEach();

// A payment API that, like Stripe, deduplicates on an idempotency key when given one.
function paymentApi() {
  const charges: { id: string; invoice: string; cents: number }[] = [];
  let executions = 0;
  const payInvoice = tool({
    description: "Charge an invoice",
    inputSchema: z.object({ invoice: z.string(), cents: z.number().int().positive() }),
    execute: async ({ invoice, cents }) => {
      executions++;
      const charge = { id: `ch_${charges.length + 1}`, invoice, cents };
      charges.push(charge);
      return charge;
    },
  });
  return { charges, payInvoice, executions: () => executions };
}

describe("guardTools with generateText", () => {
  it("the model repeating a payment is charged once: the second result is the replay of the first", async () => {
    const api = paymentApi();
    const billing = guardTools({ pay_invoice: { tool: api.payInvoice, effect: "write" } });
    const rt = runtime({ store: "memory" });
    const run = rt.startRun({ agent: "billing-bot" });
    const { model, prompts } = scripted([
      [call("pay_invoice", { invoice: "inv-42", cents: 1500 })],
      [call("pay_invoice", { invoice: "inv-42", cents: 1500 })], // the model repeats itself
      "Paid.",
    ]);

    const result = await generateText({ model, tools: billing.for(run), stopWhen: stepCountIs(5), prompt: "Pay inv-42" });

    expect(result.text).toBe("Paid.");
    expect(api.executions()).toBe(1);
    expect(api.charges).toHaveLength(1);
    const [first, second] = toolResults(prompts[2]);
    expect(first!.output).toEqual({ type: "json", value: { id: "ch_1", invoice: "inv-42", cents: 1500 } });
    expect(second!.output).toEqual(first!.output);
    expect(run.steps).toBe(1); // the replay used no step
  });

  it("two identical calls in one step (parallel tool calls) also charge once", async () => {
    const api = paymentApi();
    const billing = guardTools({ pay_invoice: { tool: api.payInvoice, effect: "write" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "billing-bot" });
    const { model, prompts } = scripted([
      [call("pay_invoice", { invoice: "inv-7", cents: 900 }), call("pay_invoice", { cents: 900, invoice: "inv-7" })],
      "Paid.",
    ]);
    await generateText({ model, tools: billing.for(run), stopWhen: stepCountIs(5), prompt: "Pay inv-7" });
    expect(api.charges).toHaveLength(1);
    expect(toolResults(prompts[1]).map((r) => r.output)).toEqual([
      { type: "json", value: { id: "ch_1", invoice: "inv-7", cents: 900 } },
      { type: "json", value: { id: "ch_1", invoice: "inv-7", cents: 900 } },
    ]);
  });

  it("a tool that throws: the model receives the failure as the tool result, and the loop goes on", async () => {
    let attempts = 0;
    const lookup = tool({
      description: "Look up an order",
      inputSchema: z.object({ order: z.string() }),
      execute: async (): Promise<{ status: string }> => {
        attempts++;
        throw new Error("orders service answered 503");
      },
    });
    const tools = guardTools({ lookup_order: { tool: lookup, effect: "read", retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 } } });
    const run = runtime({ store: "memory" }).startRun({ agent: "support-bot" });
    const { model, prompts } = scripted([[call("lookup_order", { order: "A-1" })], "I could not look up your order right now."]);

    const result = await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "Where is A-1?" });

    expect(attempts).toBe(2); // a read is retried (bounded)
    expect(prompts).toHaveLength(2); // the loop went on to a second model call
    const part = toolResults(prompts[1])[0]!;
    expect(part.output.type).toBe("json"); // a result, not the SDK's error-text
    const failure = lastResult(prompts[1]) as ToolFailure;
    expect(failure).toMatchObject({ error: "tool_error", retryable: true });
    expect(failure.message).toContain("orders service answered 503");
    expect(failure.message).toContain("after 2 attempts");
    expect(result.text).toBe("I could not look up your order right now.");
    expect(isToolFailure(result.steps[0]!.toolResults[0]!.output)).toBe(true);
  });

  it("invalid arguments from the model: invalid_input naming the field, and the tool is not executed", async () => {
    const api = paymentApi();
    const billing = guardTools({ pay_invoice: { tool: api.payInvoice, effect: "write" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "billing-bot" });
    const { model, prompts } = scripted([[call("pay_invoice", { invoice: "inv-43", cents: "15.00" })], "Sorry."]);

    await generateText({ model, tools: billing.for(run), stopWhen: stepCountIs(5), prompt: "Pay inv-43" });

    expect(api.executions()).toBe(0);
    const failure = lastResult(prompts[1]) as ToolFailure;
    expect(failure.error).toBe("invalid_input");
    expect(failure.message).toContain("`cents`");
    expect(failure.retryable).toBe(false);
  });

  it("the model still sees the tool's JSON Schema, made from its zod inputSchema", async () => {
    const api = paymentApi();
    const billing = guardTools({ pay_invoice: { tool: api.payInvoice, effect: "write" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "billing-bot" });
    const { model } = scripted(["nothing to do"]);
    await generateText({ model, tools: billing.for(run), prompt: "hi" });
    const sent = model.doGenerateCalls[0]!.tools?.[0];
    expect(sent).toMatchObject({ type: "function", name: "pay_invoice", description: "Charge an invoice" });
    expect(sent && "inputSchema" in sent ? sent.inputSchema : undefined).toMatchObject({
      type: "object",
      properties: { invoice: { type: "string" }, cents: { type: "integer" } },
      required: ["invoice", "cents"],
    });
  });

  it("an AI SDK jsonSchema with validate is Bulwark's input validation too", async () => {
    let ran = 0;
    const greet = tool({
      inputSchema: jsonSchema<{ name: string }>(
        { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
        { validate: (v) => (typeof (v as { name?: unknown })?.name === "string" ? { success: true, value: v as { name: string } } : { success: false, error: new Error("name must be a string") }) },
      ),
      execute: async ({ name }) => (ran++, `hello ${name}`),
    });
    const tools = guardTools({ greet: { tool: greet, effect: "read" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "greeter" });
    const { model, prompts } = scripted([[call("greet", { name: 42 })], [call("greet", { name: "Ada" })], "ok"]);
    await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "hi" });
    expect(lastResult(prompts[1])).toMatchObject({ error: "invalid_input", message: expect.stringContaining("name must be a string") });
    expect(lastResult(prompts[2])).toBe("hello Ada");
    expect(ran).toBe(1);
  });

  it("a frozen run: the destructive tool's result is frozen, and the tool is not executed", async () => {
    let dropped = 0;
    const dropTable = tool({
      description: "Drop a database table",
      inputSchema: z.object({ table: z.string() }),
      execute: async ({ table }) => (dropped++, { dropped: table }),
    });
    const tools = guardTools({ drop_table: { tool: dropTable, effect: "destructive" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "coding-agent", policy: { freeze: true } });
    const { model, prompts } = scripted([[call("drop_table", { table: "prod_users" })], "The change must wait until the freeze ends."]);

    await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "Clean up the database" });

    expect(dropped).toBe(0);
    const failure = lastResult(prompts[1]) as ToolFailure;
    expect(failure).toMatchObject({ error: "frozen", retryable: false });
    expect(failure.message).toContain("changes are frozen");
  });

  it("the chain breaker halts the run after repeated failures, and the model is told to stop", async () => {
    let executions = 0;
    const deploy = tool({
      inputSchema: z.object({ service: z.string() }),
      execute: async (): Promise<string> => {
        executions++;
        throw new Error("deploy failed: health check timed out");
      },
    });
    const tools = guardTools({ deploy: { tool: deploy, effect: "write" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "ops-bot", policy: { maxConsecutiveFailures: 2 } });
    const { model, prompts } = scripted([
      [call("deploy", { service: "api" })],
      [call("deploy", { service: "api" })],
      [call("deploy", { service: "api" })],
      "I stopped; a person will follow up.",
    ]);

    await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(6), prompt: "Deploy the api" });

    // A write that failed without saying what happened (a plain Error) may have landed: it is
    // not retried, and its repeat is not run again; the third call never ran.
    expect(executions).toBe(1);
    expect(lastResult(prompts[1])).toMatchObject({ error: "tool_error" });
    expect(lastResult(prompts[2])).toMatchObject({ error: "write_unverified" });
    const halted = lastResult(prompts[3]) as ToolFailure;
    expect(halted.error).toBe("run_halted");
    expect(halted.message).toContain("No further actions will be carried out");
    expect(run.mode).toBe("halted");
  });

  it("a cancelled generation cancels the call (the tool's abortSignal fires, no retry) but not the run", async () => {
    let started = 0;
    let sawAbort = false;
    const slow = tool({
      inputSchema: z.object({ q: z.string() }),
      execute: ({ q }, { abortSignal }) =>
        new Promise<string>((resolve, reject) => {
          started++;
          if (q === "fast") return resolve("quick answer");
          abortSignal?.addEventListener("abort", () => {
            sawAbort = true;
            reject(new Error("aborted"));
          });
        }),
    });
    const tools = guardTools({ search: { tool: slow, effect: "read", retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 } } });
    const run = runtime({ store: "memory" }).startRun({ agent: "researcher" });
    const controller = new AbortController();
    const { model } = scripted([[call("search", { q: "slow" })], "never"]);
    setTimeout(() => controller.abort(new Error("user pressed stop")), 20);

    await expect(
      generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "find", abortSignal: controller.signal }),
    ).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 20));
    expect(sawAbort).toBe(true);
    expect(started).toBe(1); // not retried for a caller that is gone
    expect(run.mode).toBe("normal");

    const next = scripted([[call("search", { q: "fast" })], "ok"]);
    await generateText({ model: next.model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "find" });
    expect(lastResult(next.prompts[1])).toBe("quick answer");
  });

  it("a successful call whose fact was outranked tells the model the current value", async () => {
    const policyPage = tool({
      inputSchema: z.object({}),
      execute: async () => ({ refundAfterTravel: false, updated: "2024-06-01" }),
    });
    const faq = tool({
      inputSchema: z.object({}),
      execute: async () => ({ answer: "claim within 90 days after travel", updated: "2024-02-01" }),
    });
    const key = "bereavement.refund_after_travel";
    const tools = guardTools({
      policy_page: { tool: policyPage, effect: "read", facts: (o) => [{ key, value: o.refundAfterTravel, source: "policy page", asOf: o.updated, authority: 2 }] },
      faq: { tool: faq, effect: "read", facts: (o) => [{ key, value: true, source: "faq", asOf: o.updated, authority: 1 }] },
    });
    const run = runtime({ store: "memory" }).startRun({ agent: "support-bot" });
    const { model, prompts } = scripted([[call("policy_page", {})], [call("faq", {})], "You must claim before travel."]);

    await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "Bereavement fare after travel?" });

    expect(lastResult(prompts[1])).toEqual({ refundAfterTravel: false, updated: "2024-06-01" });
    const seen = lastResult(prompts[2]) as { result: unknown; notes: string[] };
    expect(seen.result).toEqual({ answer: "claim within 90 days after travel", updated: "2024-02-01" });
    expect(seen.notes[0]).toContain("policy page");
  });
});

describe("guardTools", () => {
  it("makes the Bulwark tools once; each run gets its own tool set", async () => {
    const api = paymentApi();
    const billing = guardTools({ pay_invoice: { tool: api.payInvoice, effect: "write" } });
    const rt = runtime({ store: "memory" });
    const a = billing.for(rt.startRun({ agent: "a" }));
    const b = billing.for(rt.startRun({ agent: "b" }));
    expect(a.pay_invoice).not.toBe(b.pay_invoice);
    expect(billing.tools.pay_invoice.name).toBe("pay_invoice");
    expect(billing.tools.pay_invoice.effect).toBe("write");
    expect(billing.tools.pay_invoice.retry).toBe(false); // a mutation is retried only when asked
    // Separate runs are separate intents: each is charged (the default key includes the run id).
    const opts = { toolCallId: "t", messages: [] };
    await a.pay_invoice.execute!({ invoice: "inv-1", cents: 100 }, opts);
    await b.pay_invoice.execute!({ invoice: "inv-1", cents: 100 }, opts);
    expect(api.charges).toHaveLength(2);
  });

  it("Bulwark's span for the call carries the model's tool call id", async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("test");
    const api = paymentApi();
    const billing = guardTools({ pay_invoice: { tool: api.payInvoice, effect: "write" } });
    const run = runtime({ store: "memory", telemetry: { tracer } }).startRun({ agent: "billing-bot" });
    const pay = call("pay_invoice", { invoice: "inv-1", cents: 100 }) as { toolCallId: string };
    const { model } = scripted([[pay as LanguageModelV3Content], "ok"]);
    await generateText({ model, tools: billing.for(run), stopWhen: stepCountIs(3), prompt: "pay" });
    const span = exporter.getFinishedSpans().find((s) => s.name === "execute_tool pay_invoice");
    expect(span?.attributes["gen_ai.tool.call.id"]).toBe(pay.toolCallId);
  });

  it("an effect is required: no default is safe", () => {
    const t = tool({ inputSchema: z.object({}), execute: async () => "x" });
    // @ts-expect-error effect is missing
    expect(() => guardTools({ x: { tool: t } })).toThrow(/effect must be one of read, write, destructive/);
  });

  it("a tool without execute cannot be guarded", () => {
    const clientSide = tool({ inputSchema: z.object({ ok: z.boolean() }), outputSchema: z.string() });
    expect(() => guardTools({ confirm: { tool: clientSide, effect: "read" } })).toThrow(/has no execute/);
  });

  it("a write tool forwards Bulwark's idempotency key through bulwarkContext(options)", async () => {
    const keys: (string | undefined)[] = [];
    const refund = tool({
      inputSchema: z.object({ charge: z.string() }),
      execute: async ({ charge }, options) => {
        keys.push(bulwarkContext(options)?.idempotencyKey);
        return { refunded: charge };
      },
    });
    const tools = guardTools({ refund: { tool: refund, effect: "write", idempotencyKey: ({ charge }) => `refund:${charge}` } });
    const run = runtime({ store: "memory" }).startRun({ agent: "billing-bot" });
    const { model } = scripted([[call("refund", { charge: "ch_9" })], "ok"]);
    await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(3), prompt: "refund" });
    expect(keys).toHaveLength(1);
    expect(keys[0]).toContain("refund:ch_9");
  });

  it("the tool's outputSchema checks its response at the boundary", async () => {
    const rate = tool({
      inputSchema: z.object({ from: z.string(), to: z.string() }),
      outputSchema: z.object({ rate: z.number().positive() }),
      execute: async () => ({ rate: -1 }),
    });
    const tools = guardTools({ fx_rate: { tool: rate, effect: "read", retry: false } });
    const run = runtime({ store: "memory" }).startRun({ agent: "fx" });
    const { model, prompts } = scripted([[call("fx_rate", { from: "EUR", to: "USD" })], "unavailable"]);
    await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(3), prompt: "rate?" });
    expect(lastResult(prompts[1])).toMatchObject({ error: "invalid_output", message: expect.stringContaining("`rate`") });
  });
});

/** AI SDK 7 (`isStepCount` is its name for `stepCountIs`). */
const sdk7 = "isStepCount" in ai;

/** The messages a generation added to the conversation (AI SDK 7: `responseMessages`; 6: `response.messages`). */
function responseMessages(result: { response: { messages: readonly unknown[] } }): ModelMessage[] {
  return ((result as { responseMessages?: ModelMessage[] }).responseMessages ?? result.response.messages) as ModelMessage[];
}

describe("approvals through the SDK's tool approval", () => {
  function dropTable() {
    const dropped: string[] = [];
    const t = tool({
      description: "Drop a database table",
      inputSchema: z.object({ table: z.string() }),
      execute: async ({ table }) => (dropped.push(table), { dropped: table }),
    });
    return { dropped, tools: guardTools({ drop_table: { tool: t, effect: "destructive", approval: "always" } }) };
  }

  /** The first turn: the model asks to drop a table; the SDK asks for a person's approval instead of running it. */
  async function firstTurn() {
    const { dropped, tools } = dropTable();
    const rt = runtime({ store: "memory" });
    const run = rt.startRun({ agent: "coding-agent" });
    const { model } = scripted([[call("drop_table", { table: "logs" })], "never reached"]);
    const messages: ModelMessage[] = [{ role: "user", content: "Drop the logs table" }];
    const result = await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), messages });
    messages.push(...responseMessages(result));
    const request = result.content.find((p) => p.type === "tool-approval-request");
    return { rt, run, tools, dropped, messages, request: request as { approvalId: string } | undefined };
  }

  const answer = (approvalId: string, approved: boolean, reason?: string): ModelMessage => ({
    role: "tool",
    content: [{ type: "tool-approval-response", approvalId, approved, ...(reason ? { reason } : {}) }],
  });

  it("the SDK asks the person, and Bulwark's durable request waits beside it; nothing runs", async () => {
    const { rt, run, dropped, request } = await firstTurn();
    expect(request).toBeDefined();
    expect(dropped).toEqual([]);
    expect(await rt.approvals.list()).toMatchObject([{ runId: run.id, tool: "drop_table", args: { table: "logs" }, status: "pending" }]);
  });

  it("approved in the chat: recorded in Bulwark with who decided, and the call runs once", async () => {
    const { rt, run, tools, dropped, messages, request } = await firstTurn();
    messages.push(answer(request!.approvalId, true));
    const { model, prompts } = scripted(["Dropped."]);
    const result = await generateText({ model, tools: tools.for(run, { decidedBy: "ada@example.com" }), stopWhen: stepCountIs(5), messages });
    expect(result.text).toBe("Dropped.");
    expect(dropped).toEqual(["logs"]);
    expect(lastResult(prompts[0])).toEqual({ dropped: "logs" });
    expect(await rt.approvals.list()).toMatchObject([{ tool: "drop_table", status: "approved", by: "ada@example.com" }]);
  });

  it("denied in the chat: recorded in Bulwark with the reason; the model's repeat gets approval_denied, never a second prompt", async () => {
    const { rt, run, tools, dropped, messages, request } = await firstTurn();
    messages.push(answer(request!.approvalId, false, "not during the freeze"));
    const { model, prompts } = scripted([[call("drop_table", { table: "logs" })], "It was declined."]);
    const result = await generateText({ model, tools: tools.for(run, { decidedBy: "ada", messages }), stopWhen: stepCountIs(5), messages });
    expect(dropped).toEqual([]);
    expect(result.content.some((p) => p.type === "tool-approval-request")).toBe(false);
    expect(lastResult(prompts[1])).toMatchObject({ error: "approval_denied", message: expect.stringContaining("not during the freeze") });
    expect(await rt.approvals.list()).toMatchObject([{ status: "denied", by: "ada", reason: "not during the freeze" }]);
  });

  it("decided in Bulwark first (dashboard, CLI, another process): the SDK asks no one and follows it", async () => {
    const { rt, run, tools, dropped } = await firstTurn();
    const [pending] = await rt.approvals.list();
    await rt.approvals.approve(pending!.id, { by: "ops" });
    const { model, prompts } = scripted([[call("drop_table", { table: "logs" })], "Dropped."]);
    const result = await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "Drop the logs table" });
    expect(result.content.some((p) => p.type === "tool-approval-request")).toBe(false);
    expect(lastResult(prompts[1])).toEqual({ dropped: "logs" });
    expect(dropped).toEqual(["logs"]);
  });

  it("a call the policy does not ask about runs without a prompt", async () => {
    const dropped: string[] = [];
    const t = tool({ inputSchema: z.object({ table: z.string() }), execute: async ({ table }) => (dropped.push(table), { dropped: table }) });
    const tools = guardTools({ drop_table: { tool: t, effect: "destructive", approval: ({ table }) => table.startsWith("prod_") } });
    const run = runtime({ store: "memory" }).startRun({ agent: "coding-agent" });
    const { model } = scripted([[call("drop_table", { table: "tmp_1" })], [call("drop_table", { table: "prod_users" })], "ok"]);
    const result = await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "clean up" });
    expect(dropped).toEqual(["tmp_1"]);
    expect(result.content.filter((p) => p.type === "tool-approval-request")).toHaveLength(1);
  });
});

describe.runIf(sdk7)("AI SDK 7 timeouts", () => {
  it("the SDK's tool timeout (timeout.toolMs) reaches the model as a timeout it can act on", async () => {
    let sawAbort = false;
    const slow = tool({
      inputSchema: z.object({ q: z.string() }),
      execute: (_input, { abortSignal }) => new Promise<string>((_, reject) => abortSignal?.addEventListener("abort", () => ((sawAbort = true), reject(abortSignal.reason)))),
    });
    const tools = guardTools({ search: { tool: slow, effect: "read", retry: false } });
    const run = runtime({ store: "memory" }).startRun({ agent: "researcher" });
    const { model, prompts } = scripted([[call("search", { q: "x" })], "It timed out."]);
    const result = await generateText({ model, tools: tools.for(run), stopWhen: stepCountIs(5), prompt: "find", timeout: { toolMs: 50 } } as never);
    expect((result as { text: string }).text).toBe("It timed out.");
    expect(lastResult(prompts[1])).toMatchObject({ error: "timeout", retryable: true, message: expect.stringContaining("search did not answer") });
    expect(sawAbort).toBe(true); // the tool was told to stop
    expect(run.mode).toBe("normal");
  });
});

// The README shows AI SDK 7 (`isStepCount`): its examples run in the AI SDK 7 run of this file.
describe.runIf(sdk7)("README", () => {
  /** A scripted model for the README's examples: it pays inv-42 twice, then answers. */
  const payingModel = [
    'import { MockLanguageModelV3 } from "ai/test";',
    "const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } };",
    'const pay = (id: string) => ({ type: "tool-call" as const, toolCallId: id, toolName: "pay_invoice", input: JSON.stringify({ invoice: "inv-42", cents: 1500 }) });',
    "let n = 0;",
    "export const model = new MockLanguageModelV3({",
    "  doGenerate: async () => {",
    "    n++;",
    '    if (n <= 2) return { content: [pay(`tc_${n}`)], finishReason: { unified: "tool-calls" as const, raw: undefined }, usage, warnings: [] };',
    '    return { content: [{ type: "text" as const, text: "Paid inv-42." }], finishReason: { unified: "stop" as const, raw: undefined }, usage, warnings: [] };',
    "  },",
    "});",
    "",
  ].join("\n");

  it("adding Bulwark to an existing agent: the snippet runs, and the model paying twice charges once", async () => {
    // The user's agent, as the snippet imports it: a model, a tool, a prompt.
    const agent = [
      payingModel,
      'import { tool } from "ai";',
      'import { z } from "zod";',
      "export const charges: string[] = [];",
      "export const payInvoice = tool({",
      "  inputSchema: z.object({ invoice: z.string(), cents: z.number().int() }),",
      "  execute: async ({ invoice }) => (charges.push(invoice), { id: `ch_${charges.length}` }),",
      "});",
      'export const prompt = "Pay invoice inv-42.";',
      "",
    ].join("\n");
    const lines = await runAddSnippet({ heading: "## With the Vercel AI SDK", name: "ai-sdk-add", agent, log: "result.text, charges.length" });
    expect(lines).toEqual([["Paid inv-42.", 1]]);
  });

  it("the whole example runs, with a model that pays twice", async () => {
    const code = readmeExample("A whole example, with a read-back");
    const provider = 'import { openai } from "@ai-sdk/openai";';
    expect(code).toContain(provider);
    // The provider is the one line swapped: a scripted model that repeats the payment.
    mkdirSync(exampleDir, { recursive: true });
    writeFileSync(`${exampleDir}ai-sdk-model.ts`, `${payingModel}export const openai = (_id: string) => model;\n`);
    const lines = await runExample("ai-sdk-example", code.replace(provider, 'import { openai } from "./ai-sdk-model.js";'));
    expect(lines).toEqual([["Paid inv-42.", 1]]);
  });
});
