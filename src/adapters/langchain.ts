/**
 * The LangChain adapter (`bulwark/langchain`): `@langchain/core` tools, guarded, and so
 * LangGraph's `ToolNode` and the agents built on it. `guardTools` turns LangChain tools
 * into Bulwark tools once; `.for(run)` gives tools of the same name, description and
 * schema whose every call goes through `run.call`, and whose result is what the model
 * should see: the value, or the failure as an object it can act on (in the ToolMessage,
 * as JSON).
 *
 * A LangChain tool throws its errors (ToolNode turns them into an error ToolMessage), so
 * an existing tool can be wrapped as it is: its errors reach Bulwark, which retries,
 * breaks, records and answers for it. There is no approval step in LangChain's tools:
 * a call that needs a person gets `approval_required` as its result, and goes through
 * once approved (`rt.approvals`, the dashboard, the CLI).
 *
 * Uses only Bulwark's public API. Imports `@langchain/core` (an optional peer
 * dependency): only code that imports this entry point needs it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { DynamicStructuredTool, type StructuredToolInterface, type ToolRunnableConfig } from "@langchain/core/tools";
import { defineTool, type Run, type Tool, type ToolContext } from "../index.js";
import { bulwarkTools, checkRun, isStandardSchema, retryDefault, toolFailure, type GuardOptions } from "./guard.js";

export { isToolFailure, type GuardOptions, type ToolFailure } from "./guard.js";

/** One entry of `guardTools`: the LangChain tool and how to guard it. */
export type GuardSpec = GuardOptions<any, any> & { tool: StructuredToolInterface };

export interface GuardedTools<K extends string> {
  /**
   * The Bulwark tools, by key, made once. Register them with the runtime
   * (`createRuntime({ tools: Object.values(g.tools) })`) so that a rollback from another
   * process finds their compensations.
   */
  readonly tools: { readonly [P in K]: Tool };
  /** The LangChain tools for one run: for `new ToolNode(g.for(run))`, `model.bindTools(…)`, an agent. */
  for(run: Run): DynamicStructuredTool[];
}

/** The config LangChain gave the call in progress, for the tool's own invoke. */
const lcCall = new AsyncLocalStorage<ToolRunnableConfig | undefined>();

/**
 * Where Bulwark's context of a guarded call rides in the config its tool is invoked with:
 * LangChain copies a config on its way to the tool, but keeps `configurable`'s entries.
 */
const CONTEXT = Symbol("bulwark.context");

/**
 * Bulwark's context for the call in progress, from inside a guarded tool (its `config`):
 * `bulwarkContext(config)?.idempotencyKey` is the key to forward to the system the tool
 * writes to. Undefined when the tool is called outside Bulwark.
 */
export function bulwarkContext(config: ToolRunnableConfig | undefined): ToolContext | undefined {
  return (config?.configurable as { [CONTEXT]?: ToolContext } | undefined)?.[CONTEXT];
}

/**
 * Guard LangChain tools with Bulwark. Call it once, where the tools are defined; call
 * `.for(run)` per run (one conversation, one graph thread).
 *
 * ```ts
 * const guarded = guardTools({ pay_invoice: { tool: payInvoice, effect: "write" } });
 * const tools = new ToolNode(guarded.for(run));
 * ```
 */
export function guardTools<K extends string>(specs: Record<K, GuardSpec>): GuardedTools<K> {
  const tools = bulwarkTools(specs, toBulwark);
  return {
    tools,
    for(run) {
      checkRun(run);
      return (Object.entries(specs) as [K, GuardSpec][]).map(([key, spec]) => toLangChain(spec.tool, tools[key], run));
    },
  };
}

function toBulwark(key: string, spec: GuardSpec): Tool {
  const where = `guardTools: ${JSON.stringify(key)}`;
  const { tool: original, input, output, name, ...guard } = spec;
  if (!original || typeof original !== "object" || typeof original.invoke !== "function" || typeof original.name !== "string")
    throw new TypeError(`${where}: \`tool\` must be a LangChain tool (tool(…) from @langchain/core/tools, or a StructuredTool)`);
  const inputSchema = input === false ? undefined : (input ?? (isStandardSchema(original.schema) ? original.schema : undefined));
  return defineTool({
    ...guard,
    ...retryDefault(guard),
    name: name ?? original.name,
    ...(typeof original.description === "string" ? { description: original.description } : {}),
    ...(inputSchema ? { input: inputSchema } : {}),
    ...(output ? { output } : {}),
    async execute(args, ctx) {
      const { toolCall: _toolCall, signal, ...given } = lcCall.getStore() ?? {};
      // Without the model's tool call in its config, the tool returns its raw result (not a
      // ToolMessage): that is what Bulwark checks and records. Bulwark's own signal
      // (timeout, stopped run, closing runtime) is joined with LangChain's.
      const config: ToolRunnableConfig = {
        ...given,
        signal: signal ? AbortSignal.any([ctx.signal, signal]) : ctx.signal,
        configurable: { ...given.configurable, [CONTEXT]: ctx },
      };
      return original.invoke(args, config);
    },
  });
}

function toLangChain(original: StructuredToolInterface, tool: Tool, run: Run): DynamicStructuredTool {
  const withArtifact = (original as { responseFormat?: unknown }).responseFormat === "content_and_artifact";
  return new DynamicStructuredTool({
    name: original.name,
    description: original.description,
    schema: original.schema as never,
    ...(withArtifact ? { responseFormat: "content_and_artifact" } : {}),
    func: async (input: unknown, _runManager: unknown, config?: ToolRunnableConfig) => {
      const toolCallId = config?.toolCall?.id;
      const outcome = await lcCall.run(config, () => run.call(tool, input, toolCallId ? { toolCallId } : undefined));
      // Never thrown: ToolNode would turn it into a generic error text without the kind.
      if (outcome.ok) return outcome.value;
      return withArtifact ? [toolFailure(outcome.failure), undefined] : toolFailure(outcome.failure);
    },
  }) as DynamicStructuredTool;
}
