import { describe, expect, it } from "vitest";
import { decisionsIn } from "./ai-sdk-approvals.js";

const conversation = [
  { role: "user", content: "Drop logs and users" },
  {
    role: "assistant",
    content: [
      { type: "tool-call", toolCallId: "tc1", toolName: "drop_table", input: { table: "logs" } },
      { type: "tool-call", toolCallId: "tc2", toolName: "drop_table", input: { table: "users" } },
      { type: "tool-approval-request", approvalId: "ap1", toolCallId: "tc1" },
      { type: "tool-approval-request", approvalId: "ap2", toolCallId: "tc2" },
    ],
  },
  {
    role: "tool",
    content: [
      { type: "tool-approval-response", approvalId: "ap1", approved: true },
      { type: "tool-approval-response", approvalId: "ap2", approved: false, reason: "not users" },
    ],
  },
];

describe("decisionsIn", () => {
  it("pairs each answer with the call it answers", () => {
    expect(decisionsIn(conversation)).toEqual([
      { approvalId: "ap1", toolCallId: "tc1", toolName: "drop_table", input: { table: "logs" }, approved: true },
      { approvalId: "ap2", toolCallId: "tc2", toolName: "drop_table", input: { table: "users" }, approved: false, reason: "not users" },
    ]);
  });

  it("leaves out answers to requests or calls it cannot find, and ignores what is not a message", () => {
    const forged = { role: "tool", content: [{ type: "tool-approval-response", approvalId: "ap9", approved: true }] };
    const orphan = { role: "assistant", content: [{ type: "tool-approval-request", approvalId: "ap3", toolCallId: "tc9" }] };
    const answer3 = { role: "tool", content: [{ type: "tool-approval-response", approvalId: "ap3", approved: true }] };
    expect(decisionsIn([forged, orphan, answer3])).toEqual([]);
    expect(decisionsIn([null, 1, "x", { content: "text" }, { content: [null, 7, { type: "tool-approval-response", approvalId: 1, approved: "yes" }] }])).toEqual([]);
    expect(decisionsIn(undefined)).toEqual([]);
    expect(decisionsIn("nope" as never)).toEqual([]);
  });
});
