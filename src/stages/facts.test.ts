import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, ManualClock, MAX_FACT_VALUE_CHARS, type Fact } from "bulwark";

function setup(policy = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const rt = createRuntime({ clock, policy, random: () => 0.5, onError: (e) => { throw e; } });
  return { rt, clock, run: rt.startRun({ agent: "a" }) };
}

/** A read tool whose response asserts the facts given as its argument. */
const source = (name: string) =>
  defineTool({ name, effect: "read", retry: false, execute: async (facts: Fact[]) => ({ facts }), facts: (out: { facts: Fact[] }) => out.facts });

describe("facts stage", () => {
  it("puts a response's facts in the run's ledger: run.fact returns the winner", async () => {
    const { run } = setup();
    const o = await run.call(source("crm"), [{ key: "customer.7.tier", value: "gold", source: "crm", authority: 1, asOf: "2025-12-31T00:00:00Z" }]);
    expect(o.ok).toBe(true);
    expect(run.fact("customer.7.tier")).toMatchObject({ value: "gold", source: "crm", authority: 1, asOf: Date.UTC(2025, 11, 31), tool: "crm" });
    expect(run.fact("customer.8.tier")).toBeUndefined();
  });

  it("a call whose fact loses still succeeds, with a note naming the current value, its source and why", async () => {
    const { run } = setup();
    await run.call(source("policy_page"), [{ key: "refund.window_days", value: 14, source: "policy-page", authority: 2 }]);
    const o = await run.call(source("faq"), [{ key: "refund.window_days", value: 30, source: "faq-cache", authority: 1, asOf: Date.UTC(2025, 11, 1) }]);
    expect(o.ok).toBe(true);
    if (!o.ok) return;
    expect(o.notes).toHaveLength(1);
    expect(o.notes![0]).toMatchObject({ kind: "fact_superseded", detail: { key: "refund.window_days", current: "policy-page" } });
    expect(o.notes![0]!.message).toContain("the current value is 14, from policy-page (authority 2 against 1)");
    expect(o.notes![0]!.message).toContain("do not repeat 30");
    expect(run.fact("refund.window_days")?.value).toBe(14);
  });

  it("a newer fact replaces an older one of equal authority without a note", async () => {
    const { run } = setup();
    await run.call(source("a"), [{ key: "k", value: 1, source: "a", version: 1 }]);
    const o = await run.call(source("b"), [{ key: "k", value: 2, source: "b", version: 2 }]);
    expect(o).toMatchObject({ ok: true });
    expect(o.ok && o.notes).toBeFalsy();
    expect(run.fact("k")?.value).toBe(2);
  });

  it("equal authority and freshness with different values is a contradiction", async () => {
    const { run } = setup({ confidence: { handoffBelow: 0 , readOnlyBelow: 0 } });
    await run.call(source("ledger_a"), [{ key: "acct.42.balance", value: { cents: 12000 }, source: "ledger-a", asOf: "2026-01-01" }]);
    const o = await run.call(source("ledger_b"), [{ key: "acct.42.balance", value: { cents: 8000 }, source: "ledger-b", asOf: "2026-01-01" }]);
    expect(o).toMatchObject({ ok: false, failure: { kind: "contradiction", detail: { key: "acct.42.balance" } } });
    if (!o.ok) expect(o.failure.message).toMatch(/\{"cents":12000\} from ledger-a against \{"cents":8000\} from ledger-b/);
    expect(run.fact("acct.42.balance")).toBeUndefined();
    expect(run.facts().contested[0]?.contenders.map((c) => c.source)).toEqual(["ledger-a", "ledger-b"]);
  });

  it("a source read again after a change supersedes its own earlier report: no contradiction, no lost confidence", async () => {
    const { rt, run } = setup();
    const seen: unknown[] = [];
    let cabin = "economy";
    const getReservation = defineTool({
      name: "get_reservation",
      effect: "read",
      execute: async () => ({ id: "R1", cabin }),
      facts: (r: { id: string; cabin: string }, _args, ctx) => {
        seen.push(ctx);
        return [{ key: `reservation:${r.id}:cabin`, value: r.cabin, source: "reservations" }];
      },
    });
    expect((await run.call(getReservation, {})).ok).toBe(true);
    cabin = "business";
    const again = await run.call(getReservation, {});
    expect(again).toMatchObject({ ok: true });
    expect(again.ok && again.notes).toBeFalsy();
    expect(run.fact("reservation:R1:cabin")?.value).toBe("business");
    expect(run.confidence).toBe(1);
    expect(run.mode).toBe("normal");
    // The hook is told which call, where it stands in the run's sequence, and when.
    expect(seen).toEqual([
      { callId: expect.any(String), sequence: 1, now: Date.UTC(2026, 0, 1) },
      { callId: again.callId, sequence: 2, now: Date.UTC(2026, 0, 1) },
    ]);
    await rt.close();
  });

  it("values are compared structurally: key order and number spelling are no contradiction", async () => {
    const { run } = setup();
    await run.call(source("a"), [{ key: "bal", value: { amount: 120, currency: "EUR" }, source: "a" }]);
    const o = await run.call(source("b"), [{ key: "bal", value: JSON.parse('{"currency":"EUR","amount":120.00}'), source: "b" }]);
    expect(o.ok).toBe(true);
  });

  it("a fact older than maxFactAgeMs is stale_data, and nothing of the response enters the ledger", async () => {
    const { run, clock } = setup({ maxFactAgeMs: 60_000 });
    const o = await run.call(source("cache"), [
      { key: "fresh", value: 1, source: "cache", asOf: clock.now() },
      { key: "price", value: 9, source: "cache", asOf: clock.now() - 120_000 },
    ]);
    expect(o).toMatchObject({ ok: false, failure: { kind: "stale_data", retryable: true, detail: { key: "price", source: "cache" } } });
    expect(run.fact("fresh")).toBeUndefined();
    const ok = await run.call(source("live"), [{ key: "price", value: 9, source: "live", asOf: clock.now() - 1_000 }]);
    expect(ok.ok).toBe(true);
  });

  it("a malformed date fails the call with a message naming the fact", async () => {
    const { run } = setup();
    const o = await run.call(source("faq"), [{ key: "fare.bereavement.rule", value: "x", source: "faq", asOf: "last Tuesdayish" }]);
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_output", detail: { fact: "fare.bereavement.rule" } } });
    if (!o.ok) expect(o.failure.message).toContain('faq returned a malformed fact fare.bereavement.rule: asOf "last Tuesdayish" is not a valid time');
    expect(run.fact("fare.bereavement.rule")).toBeUndefined();
  });

  it("a date from the future is refused: it would win every freshness comparison", async () => {
    const { run, clock } = setup();
    const o = await run.call(source("faq"), [{ key: "fare.rule", value: "after travel", source: "faq", asOf: clock.now() + 365 * 86_400_000 }]);
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_output", detail: { fact: "fare.rule" } } });
    if (!o.ok) expect(o.failure.message).toContain("is in the future");
    // a little clock skew is fine
    expect((await run.call(source("policy"), [{ key: "fare.rule", value: "before travel", source: "policy", asOf: clock.now() + 60_000 }])).ok).toBe(true);
  });

  it("a huge value is refused with its size and the limit, not truncated", async () => {
    const { run } = setup();
    const o = await run.call(source("docs"), [{ key: "doc.body", value: "x".repeat(MAX_FACT_VALUE_CHARS * 4), source: "docs" }]);
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_output" } });
    if (!o.ok) expect(o.failure.message).toMatch(/doc\.body: its value is 65538 characters as JSON, more than the limit of 16384/);
    expect(run.fact("doc.body")).toBeUndefined();
  });

  it("a facts hook that throws or returns nonsense fails the call, saying why", async () => {
    const { run } = setup();
    const throwing = defineTool({ name: "flaky_facts", effect: "read", execute: async () => ({}), facts: () => { throw new Error("cannot read field 'as_of'"); } });
    const o = await run.call(throwing, {});
    expect(o).toMatchObject({ ok: false, failure: { kind: "invalid_output", retryable: false } });
    if (!o.ok) expect(o.failure.message).toContain("its facts hook threw: cannot read field 'as_of'");
    const notList = defineTool({ name: "odd_facts", effect: "read", execute: async () => ({}), facts: () => ({ key: "k" }) as never });
    const p = await run.call(notList, {});
    if (!p.ok) expect(p.failure.message).toContain("returned object, not a list of facts");
    else expect.unreachable();
  });

  it("too many facts in one response are refused", async () => {
    const { run } = setup();
    const many = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: i, source: "s" }));
    const o = await run.call(source("bulk"), many);
    if (!o.ok) expect(o.failure.message).toContain("300 facts, more than the limit of 256");
    else expect.unreachable();
  });
});
