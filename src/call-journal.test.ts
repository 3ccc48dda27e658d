import { describe, expect, it } from "vitest";
import { CallJournal, HELD } from "./call-journal.js";

const call = (callId: string, startedAt = 1_000) => ({ callId, tool: { name: "t", effect: "read" as const }, startedAt, attempts: 1 });

describe("CallJournal (a run's entries on their way to the store)", () => {
  it("an entry says what happened: latency from the start, the failure's kind, stage and message (cut, redacted), the model's id", () => {
    const j = new CallJournal("run-1");
    j.add({ ...call("c1"), toolCallId: "call_9" }, { ok: true, value: 1, callId: "c1", replayed: false }, 1_250, 1);
    const long = `Bearer sk-live-0123456789abcdefghijklmnop ${"x".repeat(400)}`;
    j.add(call("c2"), { ok: false, callId: "c2", failure: { kind: "tool_error", message: long, retryable: false, stage: "execute" } }, 1_010, 0.9);
    j.add(call("c3"), { ok: true, value: 1, callId: "c3", replayed: true }, 1_000, 0.9);
    const [a, b, c] = j.unsaved();
    expect(a).toEqual({ runId: "run-1", callId: "c1", toolCallId: "call_9", tool: "t", effect: "read", ok: true, latencyMs: 250, attempts: 1, at: 1_000, confidence: 1 });
    expect(b!.failure).toMatchObject({ kind: "tool_error", stage: "execute" });
    expect(b!.failure!.message).not.toContain("sk-live-0123456789abcdefghijklmnop");
    expect(b!.failure!.message.length).toBeLessThanOrEqual(301);
    expect(c!.replayed).toBe(true);
  });

  it("settled sets the confidence after the call; committed entries leave, later ones stay; past HELD the oldest are dropped", () => {
    const j = new CallJournal("run-1");
    const ok = (id: string) => ({ ok: true as const, value: 1, callId: id, replayed: false });
    j.add(call("c1"), ok("c1"), 1_000, 1);
    j.add(call("c2"), ok("c2"), 1_000, 1);
    j.settled("c1", 0.8);
    j.settled("unknown", 0.1);
    const taken = j.unsaved();
    j.add(call("c3"), ok("c3"), 1_000, 0.8);
    expect(taken.map((e) => e.confidence)).toEqual([0.8, 1]);
    j.committed(taken);
    expect(j.unsaved().map((e) => e.callId)).toEqual(["c3"]);
    for (let i = 0; i < HELD + 5; i++) j.add(call(`d${i}`), ok(`d${i}`), 1_000, 1);
    expect(j.unsaved()).toHaveLength(HELD);
    expect(j.unsaved()[0]!.callId).toBe("d5");
  });
});
