/**
 * The OpenAI Agents SDK adapter with the SDK's own run loop (`run`, interruptions,
 * `RunState` resume) against a scripted model: the SDK ships no fake model, so this file
 * has a tiny one. The assertions are on what the model receives (the tool outputs in its
 * next request), since that is what it acts on. The SDK needs Node 22 (its `openai`
 * dependency says so): on Node 20 these are skipped, and run in CI's Node 22 and 24 runs.
 */
import { Agent, run as runAgent, RunState, setTracingDisabled, tool, Usage, type Model, type ModelRequest, type ModelResponse } from "@openai/agents";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ToolError } from "bulwark";
import { bulwarkContext, guardTools, isToolFailure, type ToolFailure } from "bulwark/openai-agents";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { closedAfterEach, runAddSnippet } from "../../test/fixtures/adapters.js";

setTracingDisabled(true);

const supported = Number(process.versions.node.split(".")[0]) >= 22;

type Call = { name: string; args: unknown };
type Step = Call[] | string;

let ids = 0;
/** A model that plays `steps` in order (tool calls or a final text) and keeps every request it was sent. */
function scripted(steps: Step[]) {
  const requests: ModelRequest[] = [];
  const model: Model = {
    async getResponse(request: ModelRequest): Promise<ModelResponse> {
      requests.push(request);
      const step = steps[requests.length - 1] ?? "done";
      const output =
        typeof step === "string"
          ? [{ type: "message" as const, role: "assistant" as const, status: "completed" as const, content: [{ type: "output_text" as const, text: step }] }]
          : step.map((c) => ({ type: "function_call" as const, callId: `call_${++ids}`, name: c.name, arguments: JSON.stringify(c.args), status: "completed" as const }));
      return { usage: new Usage(), output, responseId: `resp_${requests.length}` };
    },
    // eslint-disable-next-line require-yield
    async *getStreamedResponse() {
      throw new Error("the scripted model does not stream");
    },
  };
  return { model, requests };
}

/** The tool outputs in a request, in order, as the model receives them (parsed when JSON). */
function toolOutputs(request: ModelRequest | undefined): unknown[] {
  const input = Array.isArray(request?.input) ? request.input : [];
  return input
    .filter((i) => (i as { type?: string }).type === "function_call_result")
    .map((i) => {
      const out = (i as { output: string | { type: string; text?: string } }).output;
      const text = typeof out === "string" ? out : (out.text ?? "");
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    });
}
const lastOutput = (request: ModelRequest | undefined) => toolOutputs(request).at(-1);

const runtime = closedAfterEach();

/** A payment API that, like Stripe, takes an idempotency key. */
function payments() {
  const charges: { id: string; invoice: string }[] = [];
  const payInvoice = {
    name: "pay_invoice",
    description: "Charge an invoice",
    parameters: z.object({ invoice: z.string(), cents: z.number().int().positive() }),
    execute: async ({ invoice }: { invoice: string; cents: number }) => {
      const charge = { id: `ch_${charges.length + 1}`, invoice };
      charges.push(charge);
      return charge;
    },
  };
  return { charges, payInvoice };
}

function dropTable() {
  const dropped: string[] = [];
  const options = {
    name: "drop_table",
    description: "Drop a database table",
    parameters: z.object({ table: z.string() }),
    execute: async ({ table }: { table: string }) => (dropped.push(table), { dropped: table }),
  };
  return { dropped, tools: guardTools({ drop_table: { tool: options, effect: "destructive", approval: "always" } }) };
}

describe.runIf(supported)("guardTools with the Agents SDK's run loop", () => {
  it("the model repeating a payment is charged once: the second output is the replay of the first", async () => {
    const { charges, payInvoice } = payments();
    const billing = guardTools({ pay_invoice: { tool: payInvoice, effect: "write" } });
    const run = runtime({ store: "memory" }).startRun({ agent: "billing-bot" });
    const pay = { name: "pay_invoice", args: { invoice: "inv-42", cents: 1500 } };
    const { model, requests } = scripted([[pay], [pay], "Paid."]);
    const agent = new Agent({ name: "billing-bot", model, tools: billing.for(run) });

    const result = await runAgent(agent, "Pay inv-42");

    expect(result.finalOutput).toBe("Paid.");
    expect(charges).toHaveLength(1);
    expect(toolOutputs(requests[2])).toEqual([
      { id: "ch_1", invoice: "inv-42" },
      { id: "ch_1", invoice: "inv-42" },
    ]);
    expect(run.steps).toBe(1);
  });

  it("a failing tool: the failure is the tool's output, with its kind, and the loop goes on", async () => {
    let attempts = 0;
    const lookup = {
      name: "lookup_order",
      description: "Look up an order",
      parameters: z.object({ order: z.string() }),
      execute: async (): Promise<string> => {
        attempts++;
        throw new ToolError("orders service answered 503");
      },
    };
    const tools = guardTools({ lookup_order: { tool: lookup, effect: "read", retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 } } });
    const run = runtime({ store: "memory" }).startRun({ agent: "support-bot" });
    const { model, requests } = scripted([[{ name: "lookup_order", args: { order: "A-1" } }], "I could not look it up."]);

    const result = await runAgent(new Agent({ name: "support-bot", model, tools: tools.for(run) }), "Where is A-1?");

    expect(result.finalOutput).toBe("I could not look it up.");
    expect(attempts).toBe(2); // a read is retried (bounded), not the SDK's generic error text
    const failure = lastOutput(requests[1]) as ToolFailure;
    expect(isToolFailure(failure)).toBe(true);
    expect(failure).toMatchObject({ error: "tool_error", retryable: true });
    expect(failure.message).toContain("orders service answered 503");
  });

  it("a write tool forwards Bulwark's idempotency key, and its span carries the model's call id", async () => {
    const keys: (string | undefined)[] = [];
    const refund = {
      name: "refund",
      description: "Refund a charge",
      parameters: z.object({ charge: z.string() }),
      execute: async ({ charge }: { charge: string }, _ctx: unknown, details: Parameters<typeof bulwarkContext>[0]) => {
        keys.push(bulwarkContext(details)?.idempotencyKey);
        return { refunded: charge };
      },
    };
    const tools = guardTools({ refund: { tool: refund, effect: "write", idempotencyKey: ({ charge }: { charge: string }) => `refund:${charge}` } });
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("test");
    const run = runtime({ store: "memory", telemetry: { tracer } }).startRun({ agent: "billing-bot" });
    const { model, requests } = scripted([[{ name: "refund", args: { charge: "ch_9" } }], "ok"]);
    await runAgent(new Agent({ name: "billing-bot", model, tools: tools.for(run) }), "refund ch_9");
    expect(keys).toHaveLength(1);
    expect(keys[0]).toContain("refund:ch_9");
    const modelCallId = (requests[1]!.input as { type?: string; callId?: string }[]).find((i) => i.type === "function_call")?.callId;
    const span = exporter.getFinishedSpans().find((s) => s.name === "execute_tool refund");
    expect(span?.attributes["gen_ai.tool.call.id"]).toBe(modelCallId);
    expect(modelCallId).toMatch(/^call_/);
  });

  it("a tool already made by tool() is refused with what to pass instead", () => {
    const made = tool({ name: "x", description: "x", parameters: z.object({}), execute: async () => "x" });
    expect(() => guardTools({ x: { tool: made as never, effect: "read" } })).toThrow(/pass the options you give tool\(\) instead/);
    // @ts-expect-error effect is missing
    expect(() => guardTools({ x: { tool: { name: "x", description: "x", parameters: z.object({}), execute: async () => "x" } } })).toThrow(/effect must be one of/);
  });
});

describe.runIf(supported)("approvals through the SDK's interruptions and RunState", () => {
  /** The first turn: the run stops on an interruption instead of dropping the table. */
  async function firstTurn() {
    const { dropped, tools } = dropTable();
    const rt = runtime({ store: "memory" });
    const run = rt.startRun({ agent: "coding-agent" });
    const { model, requests } = scripted([[{ name: "drop_table", args: { table: "logs" } }], "Dropped.", "It was declined."]);
    const agent = new Agent({ name: "coding-agent", model, tools: tools.for(run, { decidedBy: "ada@example.com" }) });
    const result = await runAgent(agent, "Drop the logs table");
    return { rt, run, agent, dropped, requests, result };
  }

  it("the run stops on an interruption while Bulwark's durable request waits beside it; nothing runs", async () => {
    const { rt, run, dropped, result } = await firstTurn();
    expect(result.interruptions).toHaveLength(1);
    expect(dropped).toEqual([]);
    expect(await rt.approvals.list()).toMatchObject([{ runId: run.id, tool: "drop_table", args: { table: "logs" }, status: "pending" }]);
  });

  it("approved on a RunState restored from its string: recorded in Bulwark with who decided, and the call runs once", async () => {
    const { rt, agent, dropped, requests, result } = await firstTurn();
    // As a server would: the state is kept as a string while a person decides.
    const state = await RunState.fromString(agent, result.state.toString());
    state.approve(state.getInterruptions()[0]!);
    const resumed = await runAgent(agent, state);
    expect(resumed.finalOutput).toBe("Dropped.");
    expect(dropped).toEqual(["logs"]);
    expect(lastOutput(requests.at(-1))).toEqual({ dropped: "logs" });
    expect(await rt.approvals.list()).toMatchObject([{ status: "approved", by: "ada@example.com" }]);
  });

  it("rejected: recorded in Bulwark as denied; nothing runs, and a repeat gets approval_denied", async () => {
    const { rt, run, agent, dropped, result } = await firstTurn();
    result.state.reject(result.interruptions[0]!);
    await runAgent(agent, result.state);
    expect(dropped).toEqual([]);
    expect(await rt.approvals.list()).toMatchObject([{ status: "denied", by: "ada@example.com" }]);
    // The same call later in the run: Bulwark's decision stands, without asking again.
    const again = scripted([[{ name: "drop_table", args: { table: "logs" } }], "Declined."]);
    const retry = await runAgent(agent.clone({ model: again.model }), "Drop the logs table, please");
    expect(retry.interruptions ?? []).toHaveLength(0);
    expect(lastOutput(again.requests[1])).toMatchObject({ error: "approval_denied" });
    expect(dropped).toEqual([]);
    expect(run.mode).toBe("normal");
  });

  it("decided in Bulwark first (dashboard, CLI, another process): no interruption, the call runs", async () => {
    const { rt, agent, dropped } = await firstTurn();
    const [pending] = await rt.approvals.list();
    await rt.approvals.approve(pending!.id, { by: "ops" });
    const again = scripted([[{ name: "drop_table", args: { table: "logs" } }], "Dropped."]);
    const result = await runAgent(agent.clone({ model: again.model }), "Drop the logs table");
    expect(result.interruptions ?? []).toHaveLength(0);
    expect(dropped).toEqual(["logs"]);
  });
});

describe.runIf(supported)("README", () => {
  it("adding Bulwark to an existing agent: the snippet runs, and the model paying twice charges once", async () => {
    // The user's agent, as the snippet imports it: the agent (here on a scripted model) and the tool's options.
    const agent = [
      'import { Agent, Usage, setTracingDisabled, type Model } from "@openai/agents";',
      'import { z } from "zod";',
      "setTracingDisabled(true);",
      "let n = 0;",
      'const call = (id: string) => ({ type: "function_call" as const, callId: id, name: "pay_invoice", arguments: JSON.stringify({ invoice: "inv-42", cents: 1500 }), status: "completed" as const });',
      'const text = { type: "message" as const, role: "assistant" as const, status: "completed" as const, content: [{ type: "output_text" as const, text: "Paid inv-42." }] };',
      "const model: Model = {",
      "  async getResponse() { n++; return { usage: new Usage(), output: n <= 2 ? [call(`call_${n}`)] : [text] }; },",
      '  async *getStreamedResponse() { throw new Error("not streamed"); },',
      "};",
      "export const charges: string[] = [];",
      "export const payInvoiceOptions = {",
      '  name: "pay_invoice", description: "Charge an invoice",',
      "  parameters: z.object({ invoice: z.string(), cents: z.number().int() }),",
      "  execute: async ({ invoice }: { invoice: string }) => (charges.push(invoice), { id: `ch_${charges.length}` }),",
      "};",
      'export const agent = new Agent({ name: "billing-bot", model, tools: [] });',
      "",
    ].join("\n");
    const lines = await runAddSnippet({ heading: "## With the OpenAI Agents SDK", name: "openai-agents-add", agent, log: "result.finalOutput, charges.length" });
    expect(lines).toEqual([["Paid inv-42.", 1]]);
  });
});
