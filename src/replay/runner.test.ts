import { describe, expect, it } from "vitest";
import { replay, type RecordedRun } from "bulwark";
import tools, { dropTable, lookupOrder, refund } from "../../test/fixtures/replay-tools.js";
import { parseRecording } from "./formats/index.js";

const read = (id: string) => ({ tool: "lookup_order", args: { id }, result: { id, cents: 1200 } });
const drop = (table: string) => ({ tool: "drop_table", args: { table }, result: { dropped: table } });

describe("replay: the enforcing view", () => {
  it("stops a run at its first refusal, with the state carried from call to call", async () => {
    const run: RecordedRun = { runId: "r1", agent: "ops", calls: [read("1"), drop("a"), drop("b"), read("2")] };
    const report = await replay([run], { tools, policy: { destructive: { maxPerRun: 1 } } });
    const [r] = report.runs;
    expect(r!.calls.map((c) => [c.tool, c.refused, c.kind])).toEqual([
      ["lookup_order", false, undefined],
      ["drop_table", false, undefined],
      ["drop_table", true, "destructive_budget_exceeded"],
    ]);
    expect(r!.stoppedAt).toBe(2);
    expect(r!.calls[2]!.message).toContain("drop_table");
    expect(report.summary).toMatchObject({ runs: 1, calls: 4, stopped: 1, skipped: 0 });
  });

  it("keeps a recorded error as the tool's failure, not a refusal, and halts on the chain breaker after two", async () => {
    const failing = { tool: "refund", args: { order: "o1", cents: 5 }, error: { message: "503 from payments" } };
    const report = await replay([{ runId: "r2", calls: [failing, { ...failing, error: "503 again" }, read("1")] }], { tools });
    const calls = report.runs[0]!.calls;
    expect(calls[0]).toMatchObject({ tool: "refund", refused: false, kind: "tool_error" });
    expect(calls[0]!.message).toContain("503 from payments");
    expect(calls[1]).toMatchObject({ refused: false, kind: "tool_error" });
    expect(calls[2]).toMatchObject({ tool: "lookup_order", refused: true, kind: "run_halted" });
  });

  it("replays an identical write from its idempotency record, as a live run would", async () => {
    const pay = { tool: "refund", args: { order: "o1", cents: 5 }, result: { refunded: 5 } };
    const report = await replay([{ runId: "r3", calls: [pay, { ...pay, result: { refunded: 5, again: true } }] }], { tools });
    expect(report.runs[0]!.calls).toEqual([
      { tool: "refund", refused: false },
      { tool: "refund", refused: false, replayed: true },
    ]);
  });

  it("judges deadlines and freeze windows at the recorded time of each call", async () => {
    const at = (iso: string, call: object) => ({ ...call, at: iso });
    const run = { runId: "r4", calls: [at("2026-03-01T09:00:00Z", drop("a")), at("2026-03-01T12:30:00Z", drop("b"))] };
    const report = await replay([run], { tools, policy: { freeze: [{ from: "2026-03-01T12:00:00Z", to: "2026-03-01T13:00:00Z" }] } });
    expect(report.runs[0]!.calls.map((c) => c.kind)).toEqual([undefined, "frozen"]);
  });

  it("refuses what the tool's own schema refuses: a recorded call with bad arguments", async () => {
    const report = await replay([{ runId: "r5", calls: [{ tool: "refund", args: { order: "o1", cents: -5 }, result: {} }] }], { tools: { refund } });
    expect(report.runs[0]!.calls[0]).toMatchObject({ refused: true, kind: "invalid_input" });
  });
});

describe("replay: every call judged on its own", () => {
  it("goes on past refusals as the run really did, and gives each call the verdict of the state it reached", async () => {
    const run = { runId: "r6", calls: [drop("a"), drop("b"), read("1"), drop("c"), { tool: "refund", args: { order: "x", cents: 0 }, result: {} }] };
    const report = await replay([run], { tools, policy: { destructive: { maxPerRun: 1 }, maxUnverifiedDepth: 10 } });
    const r = report.runs[0]!;
    expect(r.calls).toHaveLength(2);
    expect(r.judged.map((c) => [c.refused, c.kind, c.stage])).toEqual([
      [false, undefined, undefined],
      [true, "destructive_budget_exceeded", "admission"],
      [false, undefined, undefined],
      [true, "destructive_budget_exceeded", "admission"],
      [true, "invalid_input", "validate-input"],
    ]);
    expect(report.summary.callsRefused).toBe(3);
    expect(report.summary.refusals).toEqual([
      { tool: "drop_table", kind: "destructive_budget_exceeded", runsStopped: 1, callsRefused: 2 },
      { tool: "refund", kind: "invalid_input", runsStopped: 0, callsRefused: 1 },
    ]);
  });
});

describe("replay: bad input", () => {
  it("reports each bad line or run with where it is, skips it, and replays the rest", async () => {
    const text = [
      JSON.stringify({ runId: "ok", agent: "ops", calls: [read("1")] }),
      "{ not json",
      "",
      JSON.stringify({ runId: "unknown", calls: [{ tool: "send_email", args: {}, result: "sent" }] }),
      JSON.stringify({ runId: "noargs", calls: [{ tool: "lookup_order", result: {} }] }),
      JSON.stringify({ runId: "both", calls: [{ tool: "lookup_order", args: {}, result: {}, error: "x" }] }),
      JSON.stringify({ runId: "badlabel", label: "meh", calls: [] }),
      JSON.stringify({ runId: "", calls: [] }),
      JSON.stringify([1, 2]),
      JSON.stringify({ runId: "late", calls: [{ ...read("2"), at: "yesterday" }] }),
    ].join("\n");
    const report = await replay(parseRecording(text), { tools });
    expect(report.runs.map((r) => r.runId)).toEqual(["ok"]);
    expect(report.skipped).toEqual([
      { where: "line 2", message: expect.stringMatching(/^not JSON/) },
      { where: "line 4", message: 'run "unknown" calls "send_email", which is not among the tools (lookup_order, refund, drop_table)' },
      { where: "line 5", message: "calls[0]: has no args" },
      { where: "line 6", message: "calls[0]: has both result and error; a call has one" },
      { where: "line 7", message: 'label must be "good" or "bad", got "meh"' },
      { where: "line 8", message: 'runId must be a non-empty text, got ""' },
      { where: "line 9", message: "expected a run object { runId, agent, calls }, got [1,2]" },
      { where: "line 10", message: 'calls[0]: at must be epoch ms or an ISO time, got "yesterday"' },
    ]);
    expect(report.summary.skipped).toBe(8);
  });

  it("names a run of a library call by its position", async () => {
    const report = await replay([{ runId: "a", calls: [] }, { calls: [] }], { tools: [lookupOrder] });
    expect(report.skipped).toEqual([{ where: "run 2", message: "runId must be a non-empty text, got nothing" }]);
  });

  it("throws for tools that are not tools: that is the caller's bug, not the recording's", async () => {
    await expect(replay([], { tools: [] })).rejects.toThrow(/no tools/);
    await expect(replay([], { tools: [{ name: "x" } as never] })).rejects.toThrow(/defineTool/);
  });
});

describe("replay: labels", () => {
  it("turns the summary into a confusion table: bad runs caught, good runs falsely halted", async () => {
    const runs = [
      { runId: "bad-1", label: "bad", calls: [drop("a"), drop("b")] },
      { runId: "bad-2", label: "bad", calls: [read("1")] },
      { runId: "good-1", label: "good", calls: [read("1"), drop("a")] },
      { runId: "good-2", label: "good", calls: [drop("a"), drop("b")] },
      { runId: "plain", calls: [read("3")] },
    ];
    const { summary } = await replay(runs, { tools: [lookupOrder, dropTable], policy: { destructive: { maxPerRun: 1 } } });
    expect(summary.labels).toEqual({ bad: { stopped: 1, passed: 1 }, good: { stopped: 1, passed: 1 }, unlabelled: 1 });
  });

  it("has no table when no run is labelled", async () => {
    const { summary } = await replay([{ runId: "x", calls: [read("1")] }], { tools });
    expect(summary.labels).toBeUndefined();
  });
});
