import { MockLanguageModelV3 } from "ai/test";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { FactLedger, normalizeFact } from "./ledger.js";
import { modelVerifier } from "./model-verifier.js";
import { collectVotes } from "./verification.js";

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const answer = (text: string) => new MockLanguageModelV3({ doGenerate: async () => ({ content: [{ type: "text", text }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] }) });

const now = Date.UTC(2026, 0, 1);
const ledger = new FactLedger();
ledger.offer(normalizeFact({ key: "fare.after_travel", value: false, source: "policy-page", authority: 2 }, { now }));
const base = { runId: "r", agent: "a", facts: ledger, now };
const policy = { quorum: 1, timeoutMs: 5_000 };
const decision = { text: "You can claim it after travel.", claims: [{ key: "fare.after_travel", value: true }] };

describe("modelVerifier", () => {
  it("asks the model for a structured verdict, showing it the facts and the draft as data", async () => {
    const model = answer('{"verdict":"disagree","reason":"The policy page says it cannot be claimed after travel."}');
    const [vote] = await collectVotes(decision, [modelVerifier({ model, name: "second-opinion" })], base, policy, new ManualClock(now));
    expect(vote).toMatchObject({ verifier: "second-opinion", verdict: "disagree", veto: false, reason: expect.stringContaining("policy page") });
    const prompt = JSON.stringify(model.doGenerateCalls[0]!.prompt);
    expect(prompt).toContain("fare.after_travel");
    expect(prompt).toContain("policy-page");
    expect(prompt).toContain("You can claim it after travel.");
    expect(model.doGenerateCalls[0]!.responseFormat).toMatchObject({ type: "json" });
  });

  it("an agreeing model is an agreement", async () => {
    const [vote] = await collectVotes(decision, [modelVerifier({ model: answer('{"verdict":"agree","reason":"fine"}') })], base, policy, new ManualClock(now));
    expect(vote).toMatchObject({ verifier: "model", verdict: "agree", reason: "fine" });
  });

  it("garbage from the model is an abstention, not an approval", async () => {
    for (const text of ["Sure! Looks great to me.", '{"verdict":"approve","reason":"ok"}', '{"verdict":"agree"}']) {
      const [vote] = await collectVotes(decision, [modelVerifier({ model: answer(text) })], base, policy, new ManualClock(now));
      expect(vote!.verdict).toBe("abstain");
      expect(vote!.reason).toMatch(/^failed: /);
    }
  });

  it("a model that does not answer in time abstains, and its request is aborted", async () => {
    let signal: AbortSignal | undefined;
    const model = new MockLanguageModelV3({
      doGenerate: (options) =>
        new Promise((_, reject) => {
          signal = options.abortSignal;
          options.abortSignal?.addEventListener("abort", () => reject(options.abortSignal!.reason));
        }),
    });
    const clock = new ManualClock(now);
    const pending = collectVotes(decision, [modelVerifier({ model })], base, policy, clock);
    await clock.advance(5_000);
    const [vote] = await pending;
    expect(vote).toMatchObject({ verdict: "abstain", reason: "did not answer within 5000ms" });
    expect(signal?.aborted).toBe(true);
  });

  it("a model error is an abstention", async () => {
    const model = new MockLanguageModelV3({ doGenerate: async () => { throw new Error("429 rate limited"); } });
    const [vote] = await collectVotes(decision, [modelVerifier({ model })], base, policy, new ManualClock(now));
    expect(vote).toMatchObject({ verdict: "abstain", reason: expect.stringContaining("429 rate limited") });
    expect(model.doGenerateCalls).toHaveLength(1);
  });
});
