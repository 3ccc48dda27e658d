/**
 * The Vercel AI SDK adapter (`bulwark/ai-sdk`): the tools an agent already has, guarded.
 * `guardTools` turns AI SDK tools into Bulwark tools once; `.for(run)` gives the AI SDK a
 * tool set whose every `execute` goes through `run.call`, and whose result is what the
 * model should see: the value, or the failure as an object it can act on.
 *
 * AI SDK 7 is the first target; 6 works the same (tested on both). A tool whose Bulwark
 * policy asks a person (`approval`) gets the SDK's own approval flow: the SDK asks the
 * person (a `tool-approval-request`, `useChat`'s approval buttons), and their answer is
 * recorded on Bulwark's durable request, which the call's approval stage then finds; a
 * decision made in Bulwark first (the dashboard, the CLI, another process) is followed.
 *
 * Uses only Bulwark's public API. Imports `ai` (an optional peer dependency): only code
 * that imports this entry point needs it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { asSchema, jsonSchema, type Tool as AiTool, type InferToolInput, type InferToolOutput } from "ai";
import { defineTool, failures, ToolError, type Note, type Run, type StandardSchemaV1, type Tool, type ToolContext } from "../index.js";
import { decisionsIn, type ApprovalAnswer } from "./ai-sdk-approvals.js";
import { bulwarkTools, checkRun, isStandardSchema, isToolFailure, mayAsk, needsPerson, retryDefault, toolFailure, type GuardOptions, type ToolFailure } from "./guard.js";

export { isToolFailure, type GuardOptions, type ToolFailure } from "./guard.js";

/** What the AI SDK passes to a tool's execute (the same shape in AI SDK 6 and 7). */
export type ToolExecutionOptions = Parameters<NonNullable<AiTool["execute"]>>[1];

/** One entry of `guardTools`: the AI SDK tool and how to guard it. */
export type GuardSpec<T extends AiTool> = GuardOptions<InferToolInput<T>, InferToolOutput<T>> & { tool: T };

/** The AI SDK tool as the model sees it once guarded: its result is the value or a `ToolFailure`. */
export type GuardedTool<T extends AiTool> = AiTool<InferToolInput<T>, InferToolOutput<T> | ToolFailure>;

export interface GuardedTools<T extends Record<string, AiTool>> {
  /**
   * The Bulwark tools, by key, made once. Register them with the runtime
   * (`createRuntime({ tools: Object.values(g.tools) })`) so that a rollback from another
   * process finds their compensations; or call them yourself with `run.call`.
   */
  readonly tools: { readonly [K in keyof T]: Tool<InferToolInput<T[K]>, InferToolOutput<T[K]>> };
  /**
   * The AI SDK tool set for one run (one request, one agent episode): pass it to
   * generateText, streamText or an agent. With `messages` (the conversation this request
   * continues), the person's answers to earlier approval requests are recorded in Bulwark
   * now; without, when the next guarded call of the run sees them.
   */
  for(run: Run, options?: ForRunOptions): { [K in keyof T]: GuardedTool<T[K]> };
}

export interface ForRunOptions {
  /** Who answers the SDK's approval requests in this request (the signed-in user), for Bulwark's record ["ai-sdk tool approval"]. */
  decidedBy?: string;
  /** The model messages this request continues (e.g. `await convertToModelMessages(uiMessages)`). */
  messages?: readonly unknown[];
}

/** What the AI SDK said about the call in progress, for the tool's own execute. */
const aiCall = new AsyncLocalStorage<ToolExecutionOptions>();

/** Bulwark's context of a guarded call, by the options object its execute was given. */
const contexts = new WeakMap<ToolExecutionOptions, ToolContext>();

/**
 * Bulwark's context for the call in progress, from inside a guarded tool's `execute`:
 * `bulwarkContext(options)?.idempotencyKey` is the key to forward to the system the tool
 * writes to (the same on every attempt and every repeat of the call). Undefined when the
 * tool is called outside Bulwark.
 */
export function bulwarkContext(options: ToolExecutionOptions): ToolContext | undefined {
  return contexts.get(options);
}

/**
 * Guard AI SDK tools with Bulwark. Call it once, where the tools are defined; call
 * `.for(run)` per request.
 *
 * ```ts
 * const billing = guardTools({
 *   pay_invoice: { tool: payInvoice, effect: "write", verify: … },
 *   get_invoice: { tool: getInvoice, effect: "read" },
 * });
 * await generateText({ model, tools: billing.for(run), stopWhen: stepCountIs(5), prompt });
 * ```
 *
 * The model's arguments are validated by Bulwark, not by the AI SDK: the tool's
 * `inputSchema` (zod, any Standard Schema, or `jsonSchema(…, { validate })`) still tells
 * the model what to send, but invalid arguments reach Bulwark, which answers
 * `invalid_input` naming the fields and counts it toward the chain breaker, instead of
 * the SDK's tool-error that Bulwark would never see.
 */
export function guardTools<T extends Record<string, AiTool>>(specs: { [K in keyof T]: GuardSpec<T[K]> }): GuardedTools<T> {
  const tools = bulwarkTools(specs as Record<string, GuardSpec<AiTool>>, toBulwark);
  return {
    tools: tools as GuardedTools<T>["tools"],
    for(run, options = {}) {
      checkRun(run);
      const set: ToolSet = {
        run,
        tools,
        by: options.decidedBy ?? "ai-sdk tool approval",
        // Notes on successful calls (a fact outranked by a better source), by tool call id,
        // for when the SDK turns the result into the model's message (toModelOutput).
        notes: new Map(),
        recorded: new Set(),
        recording: Promise.resolve(),
      };
      if (options.messages) void record(set, options.messages);
      const out: Record<string, AiTool> = {};
      for (const [key, spec] of Object.entries(specs as Record<string, GuardSpec<AiTool>>)) out[key] = toAiSdk(spec.tool, tools[key]!, set);
      return out as ReturnType<GuardedTools<T>["for"]>;
    },
  };
}

/** One run's tool set: what its tools share. */
interface ToolSet {
  readonly run: Run;
  /** The Bulwark tools by their key in the set (the SDK's tool name). */
  readonly tools: Readonly<Record<string, Tool>>;
  /** Who answers the SDK's approval requests, as Bulwark records it. */
  readonly by: string;
  readonly notes: Map<string, Note[]>;
  /** The SDK approval ids whose answers were recorded in Bulwark. */
  readonly recorded: Set<string>;
  /** The last recording of answers (every call waits for it, so none runs ahead of a denial). */
  recording: Promise<void>;
}

/**
 * Records in Bulwark the person's answers found in the conversation: each answer once,
 * on the request of the same run, tool and arguments. A store that cannot be reached is
 * not fatal here: the call's own approval stage fails closed.
 */
function record(set: ToolSet, messages: readonly unknown[]): Promise<void> {
  const answers = decisionsIn(messages).filter((a) => !set.recorded.has(a.approvalId) && set.tools[a.toolName]);
  if (answers.length === 0) return set.recording;
  for (const a of answers) set.recorded.add(a.approvalId);
  const write = (a: ApprovalAnswer) =>
    set.run.approval(set.tools[a.toolName]!, a.input, { approved: a.approved, by: set.by, ...(a.reason !== undefined ? { reason: a.reason } : {}) }).catch(() => {
      set.recorded.delete(a.approvalId);
    });
  return (set.recording = set.recording.then(() => Promise.all(answers.map(write))).then(() => {}));
}

function toBulwark(key: string, spec: GuardSpec<AiTool>): Tool {
  const where = `guardTools: ${JSON.stringify(key)}`;
  const { tool: original, input, output, name, ...options } = spec;
  if (!original || typeof original !== "object") throw new TypeError(`${where}: \`tool\` must be an AI SDK tool (tool({ … }))`);
  const execute = original.execute;
  if (typeof execute !== "function")
    throw new TypeError(`${where}: the tool has no execute; a tool that the client or the provider executes cannot be guarded here`);
  const inputSchema = input === false ? undefined : (input ?? validatorOf(original.inputSchema));
  const outputSchema = output === false ? undefined : (output ?? (isStandardSchema(original.outputSchema) ? original.outputSchema : undefined));
  return defineTool({
    ...options,
    ...retryDefault(options),
    name: name ?? key,
    // AI SDK 7 may describe a tool by a function of its context: Bulwark keeps only a text.
    ...(typeof original.description === "string" ? { description: original.description } : {}),
    ...(inputSchema ? { input: inputSchema } : {}),
    ...(outputSchema ? { output: outputSchema } : {}),
    async execute(args, ctx) {
      const ai = aiCall.getStore();
      const cancelled = ai?.abortSignal;
      // The generation was cancelled: nothing more to do for it. Not retryable, so that
      // Bulwark does not try again for a caller that is gone.
      if (cancelled?.aborted) throw new ToolError("not run: the generation was cancelled", { retryable: false });
      const options = {
        ...ai,
        toolCallId: ai?.toolCallId ?? ctx.callId,
        messages: ai?.messages ?? [],
        // Made only if the tool asks: Bulwark's own signal (timeout, stopped run, closing
        // runtime), joined with the generation's.
        get abortSignal() {
          return cancelled ? AbortSignal.any([ctx.signal, cancelled]) : ctx.signal;
        },
      } as ToolExecutionOptions;
      contexts.set(options, ctx);
      try {
        return await finalValue(execute.call(original, args, options));
      } catch (e) {
        if (cancelled?.aborted) throw new ToolError(`cancelled by the AI SDK (${abortReason(cancelled)})`, { retryable: false, cause: e });
        throw e;
      }
    },
  });
}

function toAiSdk(original: AiTool, tool: Tool, set: ToolSet): AiTool {
  const { outputSchema: _outputSchema, inputSchema, toModelOutput, needsApproval: _needsApproval, ...rest } = original;
  const { run, notes } = set;
  const asks = mayAsk(tool);
  const guarded: AiTool<unknown, unknown> = {
    ...(rest as object),
    // The same JSON Schema for the model, without the SDK's validation: Bulwark validates.
    inputSchema: passThrough(inputSchema),
    // Bulwark's approval policy decides; the tool's own needsApproval is replaced by it.
    ...(asks ? { needsApproval: (input: unknown, options: { toolCallId: string; messages: unknown[] }) => needsApproval(set, tool, input, options) } : {}),
    async execute(input: unknown, options: ToolExecutionOptions) {
      const signal = options.abortSignal;
      signal?.throwIfAborted();
      await record(set, options.messages);
      const started = Date.now();
      const call = aiCall.run(options, () => run.call(tool, input, { toolCallId: options.toolCallId }));
      // A cancelled generation does not wait for the call: the tool's signal is aborted,
      // and the call settles (and is recorded) in the background. The run goes on: a
      // person pressing "stop generating" is not `run.stop()`, which halts the episode.
      let outcome: Awaited<typeof call>;
      try {
        outcome = signal ? await untilAborted(call, signal) : await call;
      } catch (e) {
        // The SDK's own tool timeout (`timeout: { toolMs }`) aborts with a TimeoutError; the
        // generation goes on, so the model gets a timeout it can act on, like Bulwark's own.
        if (signal?.aborted && abortReason(signal) === "its tool timeout") return toolFailure(failures.timeout(tool.name, Date.now() - started, 1));
        throw e;
      }
      if (!outcome.ok) return toolFailure(outcome.failure);
      if (outcome.notes?.length) notes.set(options.toolCallId, outcome.notes);
      return outcome.value;
    },
    async toModelOutput(o: { toolCallId: string; input: unknown; output: unknown }) {
      // Kept for the tool set's life (one run, at most its step limit of entries), so
      // that every conversion of the same result says the same thing.
      const said = notes.get(o.toolCallId)?.map((n) => n.message);
      if (isToolFailure(o.output)) return { type: "json", value: { ...o.output } };
      if (!said) return toModelOutput ? toModelOutput(o as never) : plain(o.output);
      // A successful call whose facts were outranked: the model must see why.
      const value = toModelOutput ? await toModelOutput(o as never) : plain(o.output);
      if (value.type === "text") return { type: "text", value: `${value.value}\n\nNote: ${said.join(" ")}` };
      if (value.type === "content") return { type: "content", value: [...value.value, { type: "text", text: `Note: ${said.join(" ")}` }] };
      if (value.type === "json") return { type: "json", value: { result: value.value, notes: said } };
      return value;
    },
  };
  return guarded as AiTool;
}

/**
 * The SDK asks whether this call needs a person (see `needsPerson`). When it comes back
 * with the person's answer in the messages, the answer is recorded first.
 */
async function needsApproval(set: ToolSet, tool: Tool, input: unknown, options: { toolCallId: string; messages: unknown[] }): Promise<boolean> {
  await record(set, options.messages);
  if (decisionsIn(options.messages).some((a) => a.toolCallId === options.toolCallId)) return true;
  return needsPerson(set.run, tool, input);
}

type ModelOutput = Awaited<ReturnType<NonNullable<AiTool["toModelOutput"]>>>;

/** What the AI SDK sends when a tool has no toModelOutput. */
function plain(output: unknown): ModelOutput {
  return typeof output === "string" ? { type: "text", value: output } : { type: "json", value: (output ?? null) as never };
}

/** Bulwark's validator for an AI SDK input schema: a Standard Schema as is; an AI SDK schema with `validate` adapted; else none. */
function validatorOf(schema: AiTool["inputSchema"]): StandardSchemaV1 | undefined {
  if (schema === undefined || schema === null) return undefined;
  if (isStandardSchema(schema)) return schema;
  const s = asSchema(schema);
  const check = s.validate;
  if (!check) return undefined;
  return {
    "~standard": {
      version: 1,
      vendor: "ai-sdk",
      validate: async (value) => {
        const r = await check(value);
        return r.success ? { value: r.value } : { issues: [{ message: r.error.message }] };
      },
    },
  };
}

/** The schema's JSON Schema, made on first use, with no validation (Bulwark validates). */
function passThrough(schema: AiTool["inputSchema"]) {
  return jsonSchema(() => asSchema(schema).jsonSchema);
}

/** A tool may stream preliminary results (an async iterable): the last one is its result. */
async function finalValue(result: unknown): Promise<unknown> {
  if (typeof result === "object" && result !== null && Symbol.asyncIterator in result && typeof (result as { then?: unknown }).then !== "function") {
    let last: unknown;
    for await (const v of result as AsyncIterable<unknown>) last = v;
    return last;
  }
  return result;
}

/** Why the SDK aborted: its tool timeout, or the generation's own signal. */
function abortReason(signal: AbortSignal): string {
  return (signal.reason as { name?: unknown })?.name === "TimeoutError" ? "its tool timeout" : "the generation was aborted";
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
