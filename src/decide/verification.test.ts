import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { FactLedger, normalizeFact } from "./ledger.js";
import { checkDecision, checkVerifiers, collectVotes, factsVerifier, tally, type Verifier, type VerifierContext, type VerifierVote } from "./verification.js";

const now = Date.UTC(2026, 0, 1);

function ledgerWith(...facts: Record<string, unknown>[]) {
  const l = new FactLedger();
  for (const f of facts) l.offer(normalizeFact({ source: "s", ...f }, { now }));
  return l;
}

const ctx = (facts: FactLedger, extra: Partial<VerifierContext> = {}): VerifierContext => ({
  runId: "r",
  agent: "a",
  facts,
  now,
  signal: new AbortController().signal,
  ...extra,
});

describe("factsVerifier (the deterministic path)", () => {
  it("agrees when every claim is the current winner, compared structurally", async () => {
    const l = ledgerWith({ key: "bal", value: { amount: 120, currency: "EUR" }, source: "core" });
    const v = await factsVerifier.verify({ text: "Your balance is 120 EUR.", claims: [{ key: "bal", value: { currency: "EUR", amount: 120.0 } }] }, ctx(l));
    expect(v).toMatchObject({ verdict: "agree", reason: expect.stringContaining("bal (core)") });
  });

  it("disagrees with a claim that is not the current value, giving the current one", async () => {
    const l = ledgerWith({ key: "fare.after_travel", value: true, source: "faq", authority: 1 }, { key: "fare.after_travel", value: false, source: "policy", authority: 2 });
    const v = await factsVerifier.verify({ text: "Yes, after travel.", claims: [{ key: "fare.after_travel", value: true }] }, ctx(l));
    expect(v.verdict).toBe("disagree");
    expect(v.reason).toContain("fare.after_travel is false according to policy (authority 2), not true");
    expect(v.corrections).toEqual([expect.objectContaining({ key: "fare.after_travel", claimed: true, current: false, source: "policy" })]);
  });

  it("disagrees with claims on unknown or contested keys, and with stale winners", async () => {
    const l = ledgerWith({ key: "x", value: 1, source: "a" }, { key: "x", value: 2, source: "b" }, { key: "old", value: 5, asOf: now - 10_000 });
    expect((await factsVerifier.verify({ text: "", claims: [{ key: "nope", value: 1 }] }, ctx(l))).reason).toContain("no source consulted in this run established nope");
    expect((await factsVerifier.verify({ text: "", claims: [{ key: "x", value: 1 }] }, ctx(l))).reason).toContain("sources of equal authority disagree about x");
    expect((await factsVerifier.verify({ text: "", claims: [{ key: "old", value: 5 }] }, ctx(l, { maxFactAgeMs: 5_000 }))).reason).toContain("older than the allowed age");
    expect((await factsVerifier.verify({ text: "", claims: [{ key: "old", value: 5 }] }, ctx(l))).verdict).toBe("agree");
  });

  it("disagrees with a text that repeats a superseded value, even without claims", async () => {
    const l = ledgerWith(
      { key: "policy.text", value: "Refunds can be requested within 90 days after travel.", source: "faq", authority: 1 },
      { key: "policy.text", value: "Refunds must be requested before travel.", source: "policy-page", authority: 2 },
    );
    const v = await factsVerifier.verify({ text: "Good news: refunds can be requested within 90 days  after travel." }, ctx(l));
    expect(v.verdict).toBe("disagree");
    expect(v.reason).toContain("superseded");
    const ok = await factsVerifier.verify({ text: "Refunds must be requested before travel." }, ctx(l));
    expect(ok.verdict).toBe("abstain");
  });

  it("abstains when there is nothing to check", async () => {
    expect((await factsVerifier.verify({ text: "Hello" }, ctx(new FactLedger()))).verdict).toBe("abstain");
  });
});

describe("collectVotes", () => {
  const clock = () => new ManualClock(now);
  const base = { runId: "r", agent: "a", facts: new FactLedger(), now };
  const policy = { quorum: 1, timeoutMs: 1_000 };

  it("a verifier that throws, times out or returns garbage abstains; it is never an approval", async () => {
    const c = clock();
    let aborted = false;
    const verifiers: Verifier[] = [
      { name: "throws", verify: () => { throw new Error("model overloaded"); } },
      { name: "garbage", verify: () => ({ verdict: "yes!!", reason: 3 }) as never },
      { name: "null", verify: async () => null as never },
      {
        name: "slow",
        verify: (_d, ctx) =>
          new Promise((resolve) => {
            ctx.signal.addEventListener("abort", () => { aborted = true; });
            void resolve;
          }),
      },
    ];
    const pending = collectVotes({ text: "t" }, verifiers, base, policy, c);
    await c.advance(1_000);
    const votes = await pending;
    expect(votes.map((v) => [v.verifier, v.verdict])).toEqual([["throws", "abstain"], ["garbage", "abstain"], ["null", "abstain"], ["slow", "abstain"]]);
    expect(votes[0]!.reason).toBe("failed: model overloaded");
    expect(votes[1]!.reason).toContain("returned no valid verdict");
    expect(votes[3]!.reason).toBe("did not answer within 1000ms");
    expect(aborted).toBe(true);
    expect(tally(votes, 1).verdict).toBe("inconclusive");
  });

  it("a stopped run cancels the verifiers", async () => {
    const stop = new AbortController();
    stop.abort(new Error("stop"));
    const votes = await collectVotes({ text: "t" }, [{ name: "m", verify: () => ({ verdict: "agree", reason: "ok" }) }], base, policy, clock(), stop.signal);
    expect(votes[0]).toMatchObject({ verdict: "abstain", reason: "the run was stopped" });
  });
});

describe("tally", () => {
  const vote = (verifier: string, verdict: VerifierVote["verdict"], veto = false): VerifierVote => ({ verifier, verdict, veto, reason: `${verifier} says ${verdict}` });

  it("a vetoing verifier's disagreement rejects, whatever the others say", () => {
    const r = tally([vote("facts", "disagree", true), vote("m1", "agree"), vote("m2", "agree")], 1);
    expect(r).toMatchObject({ verdict: "rejected", agreed: ["m1", "m2"], disagreed: ["facts"], abstained: [] });
    expect(r.message).toContain("must not be sent");
  });

  it("approves with a quorum of agreement and more agree than disagree", () => {
    expect(tally([vote("facts", "agree", true), vote("m", "abstain")], 1).verdict).toBe("approved");
    expect(tally([vote("facts", "abstain", true), vote("m1", "agree"), vote("m2", "disagree")], 1).verdict).toBe("inconclusive");
    expect(tally([vote("m1", "agree"), vote("m2", "disagree"), vote("m3", "disagree")], 1).verdict).toBe("rejected");
    expect(tally([vote("facts", "agree", true), vote("m", "abstain")], 2).verdict).toBe("inconclusive");
    expect(tally([vote("facts", "agree", true), vote("m", "agree")], 2)).toMatchObject({ verdict: "approved", agreed: ["facts", "m"] });
  });

  it("all abstaining is inconclusive, never approved", () => {
    const r = tally([vote("facts", "abstain", true), vote("m", "abstain")], 1);
    expect(r.verdict).toBe("inconclusive");
    expect(r.abstained).toEqual(["facts", "m"]);
    expect(r.message).toContain("could not be verified");
  });
});

describe("input checks", () => {
  it("a malformed decision is a TypeError naming the problem", () => {
    expect(() => checkDecision(null)).toThrow(TypeError);
    expect(() => checkDecision({ text: 3 })).toThrow(/decision\.text must be a text/);
    expect(() => checkDecision({ text: "", claims: [{ key: "", value: 1 }] })).toThrow(/claims\[0\]\.key/);
    expect(() => checkDecision({ text: "", claims: [{ key: "k", value: undefined }] })).toThrow(/claims\[0\] \(k\)/);
  });

  it("verifiers need a unique name and a verify function", () => {
    expect(() => checkVerifiers([{ name: "facts", verify: () => ({}) }], "x")).toThrow(/unique/);
    expect(() => checkVerifiers([{ name: "m" }], "x")).toThrow(/verify\(decision, ctx\)/);
    expect(checkVerifiers([{ name: "m", verify: () => ({}) }], "x")).toHaveLength(1);
  });
});
