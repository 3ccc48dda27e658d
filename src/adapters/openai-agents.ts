/**
 * The OpenAI Agents SDK adapter (`bulwark/openai-agents`): function tools, guarded.
 * `guardTools` takes what you pass to the SDK's `tool()` for each tool and turns it into a
 * Bulwark tool once; `.for(run)` makes the SDK's function tools for one run, whose every
 * execution goes through `run.call`, and whose result is what the model should see: the
 * value, or the failure as an object it can act on.
 *
 * Why the options and not a made tool: a function tool made by `tool()` turns its
 * execute's errors into a text for the model ("An error occurred while running the
 * tool") inside its invoke. Wrapped from outside, every failure would look like a success
 * to Bulwark: no retry, no breaker, and a failed payment recorded as done and replayed.
 *
 * A tool whose Bulwark policy asks a person gets the SDK's own approval flow: the run
 * stops with an interruption, the person's `state.approve(item)` / `state.reject(item)`
 * is recorded on Bulwark's durable request when the run resumes from its `RunState`, and
 * a decision made in Bulwark first is followed (see `recordDecisions` for its reach).
 *
 * Uses only Bulwark's public API. Imports `@openai/agents` (an optional peer dependency,
 * which needs Node 22): only code that imports this entry point needs it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { tool as functionTool, type Agent, type FunctionTool, type RunContext } from "@openai/agents";
import { defineTool, type Run, type Tool, type ToolContext } from "../index.js";
import { bulwarkTools, checkRun, isStandardSchema, mayAsk, needsPerson, retryDefault, toolFailure, type GuardOptions, type ToolFailure } from "./guard.js";

export { isToolFailure, type GuardOptions, type ToolFailure } from "./guard.js";

/** What you pass to the SDK's `tool()`: name, description, parameters, execute, … */
export type ToolOptions = Parameters<typeof functionTool>[0];

/** The third argument of a function tool's execute: the model's call, the SDK's signal. */
export type ToolCallDetails = NonNullable<Parameters<FunctionTool["invoke"]>[2]>;

/** One entry of `guardTools`: the tool's options as given to `tool()`, and how to guard it. */
export type GuardSpec = GuardOptions<any, any> & { tool: ToolOptions };

export interface GuardedTools<K extends string> {
  /**
   * The Bulwark tools, by key, made once. Register them with the runtime
   * (`createRuntime({ tools: Object.values(g.tools) })`) so that a rollback from another
   * process finds their compensations.
   */
  readonly tools: { readonly [P in K]: Tool };
  /** The SDK's function tools for one run: `agent.clone({ tools: g.for(run) })`, or a new Agent per run. */
  for(run: Run, options?: ForRunOptions): FunctionTool<any, any, any>[];
}

export interface ForRunOptions {
  /** Who approves or rejects the run's interruptions, for Bulwark's record ["openai-agents approval"]. */
  decidedBy?: string;
}

/** What the SDK said about the call in progress, for the tool's own execute. */
const sdkCall = new AsyncLocalStorage<{ runContext: RunContext<unknown>; details: ToolCallDetails | undefined }>();

/** Bulwark's context of a guarded call, by the details object its execute was given. */
const contexts = new WeakMap<object, ToolContext>();

/**
 * Bulwark's context for the call in progress, from inside a guarded tool's execute:
 * `bulwarkContext(details)?.idempotencyKey` is the key to forward to the system the tool
 * writes to. Undefined when the tool is called outside Bulwark.
 */
export function bulwarkContext(details: ToolCallDetails | undefined): ToolContext | undefined {
  return details ? contexts.get(details) : undefined;
}

/**
 * Guard function tools with Bulwark. Call it once, where the tools are defined; call
 * `.for(run)` per run.
 *
 * ```ts
 * const billing = guardTools({ pay_invoice: { tool: payInvoiceOptions, effect: "write" } });
 * const result = await run(agent.clone({ tools: billing.for(bulwarkRun) }), "Pay inv-42");
 * ```
 */
export function guardTools<K extends string>(specs: Record<K, GuardSpec>): GuardedTools<K> {
  const tools = bulwarkTools(specs, toBulwark);
  return {
    tools,
    for(run, options = {}) {
      checkRun(run);
      const by = options.decidedBy ?? "openai-agents approval";
      return (Object.entries(specs) as [K, GuardSpec][]).map(([key, spec]) => toFunctionTool(spec.tool, tools[key], run, by));
    },
  };
}

function toBulwark(key: string, spec: GuardSpec): Tool {
  const where = `guardTools: ${JSON.stringify(key)}`;
  const { tool: options, input, output, name, ...guard } = spec;
  if (!options || typeof options !== "object") throw new TypeError(`${where}: \`tool\` must be the options you pass to tool() from @openai/agents`);
  if (typeof (options as { invoke?: unknown }).invoke === "function")
    throw new TypeError(
      `${where}: \`tool\` is a function tool already made by tool(); pass the options you give tool() instead: a made tool turns its errors into text for the model, which Bulwark could not see`,
    );
  const execute = options.execute as ((input: unknown, runContext?: RunContext<unknown>, details?: ToolCallDetails) => unknown) | undefined;
  if (typeof execute !== "function") throw new TypeError(`${where}: the tool has no execute function`);
  const inputSchema = input === false ? undefined : (input ?? (isStandardSchema(options.parameters) ? options.parameters : undefined));
  const outputSchema = output === false ? undefined : (output ?? (isStandardSchema(options.outputSchema) ? options.outputSchema : undefined));
  return defineTool({
    ...guard,
    ...retryDefault(guard),
    name: name ?? options.name ?? key,
    ...(typeof options.description === "string" ? { description: options.description } : {}),
    ...(inputSchema ? { input: inputSchema } : {}),
    ...(outputSchema ? { output: outputSchema } : {}),
    async execute(args, ctx) {
      const sdk = sdkCall.getStore();
      const given = sdk?.details?.signal;
      // Bulwark's own signal (timeout, stopped run, closing runtime), joined with the SDK's.
      const details = { ...sdk?.details, signal: given ? AbortSignal.any([ctx.signal, given]) : ctx.signal } as ToolCallDetails;
      contexts.set(details, ctx);
      return execute(args, sdk?.runContext, details);
    },
  });
}

/**
 * The calls of a run the SDK asked a person about (by the model's call id), until the
 * person's decision is seen in a run context and recorded in Bulwark. Kept per Run object:
 * a decision made on a RunState restored in another process is recorded when the call runs
 * (an approval); a rejection there is not seen by this process.
 */
const asked = new WeakMap<Run, Map<string, { tool: Tool; toolName: string; input: unknown }>>();

/** Records in Bulwark the decisions the SDK holds for the calls this run asked about. */
async function recordDecisions(run: Run, runContext: RunContext<unknown> | undefined, by: string): Promise<void> {
  const calls = asked.get(run);
  if (!calls || !runContext) return;
  for (const [callId, c] of calls) {
    const approved = runContext.isToolApproved({ toolName: c.toolName, callId });
    if (approved === undefined) continue;
    calls.delete(callId);
    await needsPerson(run, c.tool, c.input, { approved, by });
  }
}

function toFunctionTool(options: ToolOptions, tool: Tool, run: Run, by: string): FunctionTool<any, any, any> {
  const { execute: _execute, needsApproval: _needsApproval, isEnabled, ...rest } = options as ToolOptions & { needsApproval?: unknown; isEnabled?: unknown };
  const made: FunctionTool<any, any, any> = functionTool({
    ...rest,
    name: options.name ?? tool.name,
    // Never thrown to the SDK: a failure is the tool's result (see ToolFailure).
    execute: async (input: unknown, runContext?: RunContext<unknown>, details?: ToolCallDetails): Promise<unknown> => {
      const callId = details?.toolCall?.callId;
      // The SDK runs a call it paused for only once the person approved it (state.approve).
      if (callId !== undefined && mayAsk(tool) && runContext?.isToolApproved({ toolName: made.name, callId }) === true) {
        asked.get(run)?.delete(callId);
        await needsPerson(run, tool, input, { approved: true, by });
      }
      const outcome = await sdkCall.run({ runContext: runContext!, details }, () => run.call(tool, input, callId !== undefined ? { toolCallId: callId } : undefined));
      return outcome.ok ? outcome.value : (toolFailure(outcome.failure) satisfies ToolFailure);
    },
    ...(mayAsk(tool)
      ? {
          // Bulwark's approval policy decides; the tool's own needsApproval is replaced by it.
          needsApproval: async (runContext: RunContext<unknown>, input: unknown, callId?: string) => {
            await recordDecisions(run, runContext, by);
            const ask = await needsPerson(run, tool, input);
            if (ask && callId !== undefined) {
              if (!asked.has(run)) asked.set(run, new Map());
              asked.get(run)!.set(callId, { tool, toolName: made.name, input });
            }
            return ask;
          },
          // Asked by the SDK at every turn, with the run's context: where a rejection
          // (state.reject), which never reaches the tool, is first seen.
          isEnabled: async ({ runContext, agent }: { runContext: RunContext<unknown>; agent: Agent<any, any> }) => {
            await recordDecisions(run, runContext, by);
            if (typeof isEnabled === "function") return Boolean(await isEnabled({ runContext, agent }));
            return isEnabled === undefined ? true : Boolean(isEnabled);
          },
        }
      : {}),
  } as ToolOptions) as FunctionTool<any, any, any>;
  return made;
}
