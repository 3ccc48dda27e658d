/**
 * The LangChain adapter in a real LangGraph graph: a model node and LangGraph's own
 * `ToolNode`, routed by `toolsCondition`, with a scripted chat model (a BaseChatModel that
 * plays its steps in order). The assertions are on the ToolMessages the model receives,
 * since that is what it acts on.
 */
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { tool } from "@langchain/core/tools";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ToolError, type Run } from "bulwark";
import { bulwarkContext, guardTools, isToolFailure, type ToolFailure } from "bulwark/langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { closedAfterEach, runAddSnippet } from "../../test/fixtures/adapters.js";

type Call = { name: string; args: Record<string, unknown> };

let ids = 0;
/** A chat model that plays its steps in order (tool calls or a final text) and keeps what it was sent. */
class ScriptedChatModel extends BaseChatModel {
  readonly seen: BaseMessage[][] = [];
  constructor(private readonly steps: (Call[] | string)[]) {
    super({});
  }
  _llmType() {
    return "scripted";
  }
  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.seen.push(messages);
    const step = this.steps[this.seen.length - 1] ?? "done";
    const message =
      typeof step === "string"
        ? new AIMessage(step)
        : new AIMessage({ content: "", tool_calls: step.map((c) => ({ id: `call_${++ids}`, name: c.name, args: c.args, type: "tool_call" as const })) });
    return { generations: [{ text: typeof step === "string" ? step : "", message }] };
  }
}

/** The agent graph as LangGraph's docs build it: model node, ToolNode, toolsCondition. */
function agentGraph(model: ScriptedChatModel, tools: ReturnType<ReturnType<typeof guardTools>["for"]>) {
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", async (state) => ({ messages: [await model.invoke(state.messages)] }))
    .addNode("tools", new ToolNode(tools))
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .addEdge("tools", "agent")
    .compile();
}

/** The tool results the model was sent in its `n`th call, parsed from the ToolMessages. */
function toolResults(model: ScriptedChatModel, n: number): unknown[] {
  return (model.seen[n] ?? [])
    .filter((m): m is ToolMessage => m instanceof ToolMessage)
    .map((m) => {
      try {
        return JSON.parse(String(m.content));
      } catch {
        return m.content;
      }
    });
}

const runtime = closedAfterEach();

function payments() {
  const charges: { id: string; invoice: string }[] = [];
  const payInvoice = tool(
    async ({ invoice }) => {
      const charge = { id: `ch_${charges.length + 1}`, invoice };
      charges.push(charge);
      return charge;
    },
    { name: "pay_invoice", description: "Charge an invoice", schema: z.object({ invoice: z.string(), cents: z.number().int().positive() }) },
  );
  return { charges, payInvoice };
}

const ask = (run: Run, model: ScriptedChatModel, tools: ReturnType<ReturnType<typeof guardTools>["for"]>, text: string) =>
  agentGraph(model, tools).invoke({ messages: [new HumanMessage(text)] }, { configurable: { thread_id: run.id } });

describe("guardTools in a LangGraph graph", () => {
  it("the model repeating a payment is charged once: the second ToolMessage is the replay of the first", async () => {
    const { charges, payInvoice } = payments();
    const billing = guardTools({ pay_invoice: { tool: payInvoice, effect: "write" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "billing-bot" });
    const pay = { name: "pay_invoice", args: { invoice: "inv-42", cents: 1500 } };
    const model = new ScriptedChatModel([[pay], [pay], "Paid."]);

    const state = await ask(run, model, billing.for(run), "Pay inv-42");

    expect(state.messages.at(-1)?.content).toBe("Paid.");
    expect(charges).toHaveLength(1);
    expect(toolResults(model, 2)).toEqual([
      { id: "ch_1", invoice: "inv-42" },
      { id: "ch_1", invoice: "inv-42" },
    ]);
    expect(run.steps).toBe(1);
  });

  it("a failing tool: the failure is the ToolMessage, with its kind, not ToolNode's error text; reads are retried", async () => {
    let attempts = 0;
    const lookup = tool(
      async (): Promise<string> => {
        attempts++;
        throw new ToolError("orders service answered 503");
      },
      { name: "lookup_order", description: "Look up an order", schema: z.object({ order: z.string() }) },
    );
    const tools = guardTools({ lookup_order: { tool: lookup, effect: "read", retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 } } });
    const run = runtime({ store: "memory" }).startRun({ agent: "support-bot" });
    const model = new ScriptedChatModel([[{ name: "lookup_order", args: { order: "A-1" } }], "I could not look it up."]);

    await ask(run, model, tools.for(run), "Where is A-1?");

    expect(attempts).toBe(2);
    const [failure] = toolResults(model, 1) as ToolFailure[];
    expect(isToolFailure(failure)).toBe(true);
    expect(failure).toMatchObject({ error: "tool_error", retryable: true });
    expect(failure!.message).toContain("orders service answered 503");
  });

  it("a frozen run: the destructive tool is not run and the model is told why", async () => {
    const dropped: string[] = [];
    const dropTable = tool(async ({ table }) => (dropped.push(table), `dropped ${table}`), { name: "drop_table", description: "Drop a table", schema: z.object({ table: z.string() }) });
    const tools = guardTools({ drop_table: { tool: dropTable, effect: "destructive" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "coding-agent", policy: { freeze: true } });
    const model = new ScriptedChatModel([[{ name: "drop_table", args: { table: "prod_users" } }], "It must wait until the freeze ends."]);
    await ask(run, model, tools.for(run), "Clean up");
    expect(dropped).toEqual([]);
    expect(toolResults(model, 1)[0]).toMatchObject({ error: "frozen", retryable: false });
  });

  it("a call that needs approval gets approval_required, and goes through once a person approves", async () => {
    const dropped: string[] = [];
    const dropTable = tool(async ({ table }) => (dropped.push(table), `dropped ${table}`), { name: "drop_table", description: "Drop a table", schema: z.object({ table: z.string() }) });
    const tools = guardTools({ drop_table: { tool: dropTable, effect: "destructive", approval: "always" } });
    const rt = runtime({ store: "memory" });
    const run = rt.startRun({ agent: "coding-agent" });
    const drop = { name: "drop_table", args: { table: "logs" } };
    const first = new ScriptedChatModel([[drop], "Waiting for approval."]);
    await ask(run, first, tools.for(run), "Drop logs");
    expect(toolResults(first, 1)[0]).toMatchObject({ error: "approval_required" });
    const [request] = await rt.approvals.list();
    await rt.approvals.approve(request!.id, { by: "ops" });
    const second = new ScriptedChatModel([[drop], "Dropped."]);
    await ask(run, second, tools.for(run), "Approved, go ahead");
    expect(toolResults(second, 1)[0]).toBe("dropped logs");
    expect(dropped).toEqual(["logs"]);
  });

  it("a write tool forwards Bulwark's idempotency key; its span carries the model's tool call id", async () => {
    const keys: (string | undefined)[] = [];
    const refund = tool(
      async ({ charge }, config) => {
        keys.push(bulwarkContext(config)?.idempotencyKey);
        return `refunded ${charge}`;
      },
      { name: "refund", description: "Refund a charge", schema: z.object({ charge: z.string() }) },
    );
    const tools = guardTools({ refund: { tool: refund, effect: "write", idempotencyKey: ({ charge }: { charge: string }) => `refund:${charge}` } });
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("test");
    const run = runtime({ store: "memory", telemetry: { tracer } }).startRun({ agent: "billing-bot" });
    const model = new ScriptedChatModel([[{ name: "refund", args: { charge: "ch_9" } }], "ok"]);
    await ask(run, model, tools.for(run), "refund ch_9");
    expect(keys).toHaveLength(1);
    expect(keys[0]).toContain("refund:ch_9");
    const callId = (model.seen[1]!.find((m) => m instanceof ToolMessage) as ToolMessage).tool_call_id;
    expect(exporter.getFinishedSpans().find((s) => s.name === "execute_tool refund")?.attributes["gen_ai.tool.call.id"]).toBe(callId);
  });

  it("Bulwark's timeout reaches the tool through its config's signal, and the model gets a timeout", async () => {
    let sawAbort = false;
    const slow = tool(
      (_input, config) =>
        new Promise<string>((_, reject) => config?.signal?.addEventListener("abort", () => ((sawAbort = true), reject(new Error("aborted"))))),
      { name: "search", description: "Search", schema: z.object({ q: z.string() }) },
    );
    const tools = guardTools({ search: { tool: slow, effect: "read", timeoutMs: 50, retry: false } });
    const run = runtime({ store: "memory" }).startRun({ agent: "researcher" });
    const model = new ScriptedChatModel([[{ name: "search", args: { q: "x" } }], "It timed out."]);
    await ask(run, model, tools.for(run), "find");
    expect(toolResults(model, 1)[0]).toMatchObject({ error: "timeout", retryable: true });
    expect(sawAbort).toBe(true);
  });

  it("bad specs are refused with what to pass", () => {
    const { payInvoice } = payments();
    expect(() => guardTools({ x: { tool: {} as never, effect: "read" } })).toThrow(/must be a LangChain tool/);
    // @ts-expect-error effect is missing
    expect(() => guardTools({ x: { tool: payInvoice } })).toThrow(/effect must be one of/);
    expect(() => guardTools({ x: { tool: payInvoice, effect: "write" } }).for({} as never)).toThrow(/expects a Run/);
  });
});

describe("README", () => {
  it("adding Bulwark to an existing graph: the snippet runs, and the model paying twice charges once", async () => {
    // The user's graph, as the snippet imports it: a tool, and the graph built around its tools.
    const agent = [
      'import { BaseChatModel } from "@langchain/core/language_models/chat_models";',
      'import { AIMessage } from "@langchain/core/messages";',
      'import { tool, type StructuredToolInterface } from "@langchain/core/tools";',
      'import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";',
      'import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt";',
      'import { z } from "zod";',
      "let n = 0;",
      "class PaysTwice extends BaseChatModel {",
      '  _llmType() { return "pays-twice"; }',
      "  async _generate() {",
      "    n++;",
      '    const message = n <= 2 ? new AIMessage({ content: "", tool_calls: [{ id: `call_${n}`, name: "pay_invoice", args: { invoice: "inv-42", cents: 1500 }, type: "tool_call" }] }) : new AIMessage("Paid inv-42.");',
      '    return { generations: [{ text: "", message }] };',
      "  }",
      "}",
      "export const charges: string[] = [];",
      "export const payInvoice = tool(async ({ invoice }) => (charges.push(invoice), `ch_${charges.length}`), {",
      '  name: "pay_invoice", description: "Charge an invoice", schema: z.object({ invoice: z.string(), cents: z.number().int() }),',
      "});",
      "export function buildGraph(tools: StructuredToolInterface[]) {",
      "  const model = new PaysTwice({});",
      "  return new StateGraph(MessagesAnnotation)",
      '    .addNode("agent", async (s) => ({ messages: [await model.invoke(s.messages)] }))',
      '    .addNode("tools", new ToolNode(tools))',
      '    .addEdge(START, "agent")',
      '    .addConditionalEdges("agent", toolsCondition, ["tools", END])',
      '    .addEdge("tools", "agent")',
      "    .compile();",
      "}",
      "",
    ].join("\n");
    const lines = await runAddSnippet({ heading: "## With LangChain and LangGraph", name: "langchain-add", agent, log: "result.messages.at(-1)?.content, charges.length" });
    expect(lines).toEqual([["Paid inv-42.", 1]]);
  });
});
