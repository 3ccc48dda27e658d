import { describe, expect, it } from "vitest";
import { handoffRecord, RecentHistory } from "./handoff.js";

describe("handoff context", () => {
  it("keeps the last 10 calls, with failure kinds, and cuts long arguments", () => {
    const h = new RecentHistory();
    for (let i = 0; i < 12; i++) h.call({ callId: `c${i}`, tool: "t", effect: "read", args: { i } }, { ok: true, value: 1, callId: `c${i}`, replayed: false }, i);
    h.call({ callId: "big", tool: "w", effect: "write", args: { blob: "x".repeat(5_000) } }, { ok: false, failure: { kind: "frozen", message: "m", retryable: false }, callId: "big" }, 99);
    const calls = h.lastCalls;
    expect(calls).toHaveLength(10);
    expect(calls[0]!.callId).toBe("c3");
    expect(calls.at(-1)).toMatchObject({ tool: "w", ok: false, kind: "frozen", args: { chars: 5_011 } });
  });

  it("a record carries the reason, the facts, the calls and decisions, open", () => {
    const h = new RecentHistory();
    h.decision({ text: "draft", verdict: "rejected", reasons: ["facts: wrong"], at: 1 });
    const r = handoffRecord({ id: "h1", runId: "r", agent: "a", reason: "why", at: 5, confidence: 0.3, facts: { current: [], contested: [] }, history: h });
    expect(r).toMatchObject({ id: "h1", status: "open", reason: "why", context: { confidence: 0.3, lastDecisions: [{ verdict: "rejected" }] } });
  });
});
