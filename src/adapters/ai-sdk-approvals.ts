/**
 * The person's answers to the AI SDK's tool approval requests, read from a conversation's
 * model messages: the assistant's `tool-call` and `tool-approval-request` parts, and the
 * `tool-approval-response` parts the client sends back (`addToolApprovalResponse` in
 * `useChat`, or pushed by hand). The same parts in AI SDK 6 and 7.
 *
 * The messages come from the client, so an answer here is as trustworthy as the client:
 * AI SDK 7's `experimental_toolApprovalSecret` signs the requests it issues, and the SDK
 * refuses an approval whose signature does not match before any tool runs.
 */

/** One answer, with the call it answers. */
export interface ApprovalAnswer {
  approvalId: string;
  toolCallId: string;
  toolName: string;
  input: unknown;
  approved: boolean;
  reason?: string;
}

type Part = { type?: unknown; [k: string]: unknown };

/** The answers in `messages`, in order; answers to unknown requests or calls are left out. */
export function decisionsIn(messages: readonly unknown[] | undefined): ApprovalAnswer[] {
  if (!Array.isArray(messages)) return [];
  const calls = new Map<string, Part>();
  const requests = new Map<string, string>(); // approval id -> tool call id
  const responses: Part[] = [];
  for (const m of messages as readonly { role?: unknown; content?: unknown }[]) {
    if (!m || !Array.isArray(m.content)) continue;
    for (const part of m.content as Part[]) {
      if (!part || typeof part !== "object") continue;
      if (part.type === "tool-call" && typeof part.toolCallId === "string") calls.set(part.toolCallId, part);
      else if (part.type === "tool-approval-request" && typeof part.approvalId === "string" && typeof part.toolCallId === "string")
        requests.set(part.approvalId, part.toolCallId);
      else if (part.type === "tool-approval-response" && typeof part.approvalId === "string" && typeof part.approved === "boolean") responses.push(part);
    }
  }
  const answers: ApprovalAnswer[] = [];
  for (const r of responses) {
    const approvalId = r.approvalId as string;
    const toolCallId = requests.get(approvalId);
    const call = toolCallId === undefined ? undefined : calls.get(toolCallId);
    if (!call || typeof call.toolName !== "string") continue;
    answers.push({
      approvalId,
      toolCallId: toolCallId!,
      toolName: call.toolName,
      input: call.input,
      approved: r.approved as boolean,
      ...(typeof r.reason === "string" ? { reason: r.reason } : {}),
    });
  }
  return answers;
}
