/**
 * Replay of the support-bot incident: the bot told a grieving customer that a
 * bereavement fare could be claimed after travel, while the policy page said the
 * opposite. Two sources of truth, nothing reconciled them. Here the cached FAQ (older,
 * less authoritative) and the policy page both assert the rule; a scripted agent drafts
 * its answer from the FAQ. Without Bulwark the wrong answer goes out; with it the draft
 * fails verification, the agent is told the current policy, and an agent that insists is
 * handed to a person.
 */
import { MockLanguageModelV3 } from "ai/test";
import { describe, expect, it, vi } from "vitest";
import { createRuntime, defineTool, ManualClock, modelVerifier, type Decision, type Outcome, type Run, type Tool } from "bulwark";

const RULE = "fare.bereavement.claimable_after_travel";
const FAQ_TEXT = "Bereavement fares can be claimed up to 90 days after travel.";
const POLICY_TEXT = "Bereavement fares must be requested before travel; they cannot be claimed after the trip.";

/** The cached FAQ: an old answer, lower authority. */
const faqLookup = async () => ({ answer: FAQ_TEXT, cachedAt: "2022-03-14T09:00:00Z" });
/** The policy page: the current policy. */
const policyPage = async () => ({ text: POLICY_TEXT, revision: "2024-11", updated: "2024-11-02T00:00:00Z" });

const faqTool = defineTool({
  name: "faq_lookup",
  effect: "read",
  execute: faqLookup,
  facts: (o: Awaited<ReturnType<typeof faqLookup>>) => [{ key: RULE, value: true, source: "faq-cache", authority: 1, asOf: o.cachedAt }],
});
const policyTool = defineTool({
  name: "policy_page",
  effect: "read",
  execute: policyPage,
  facts: (o: Awaited<ReturnType<typeof policyPage>>) => [{ key: RULE, value: false, source: "policy-page", authority: 2, version: o.revision, asOf: o.updated }],
});

/** The scripted agent's draft, built from the FAQ. */
const draftFromFaq = (): Decision => ({ text: `Yes. ${FAQ_TEXT} Just send us the receipt after your trip.`, claims: [{ key: RULE, value: true }], about: "answer" });
const draftFromPolicy = (): Decision => ({ text: `I'm sorry for your loss. ${POLICY_TEXT}`, claims: [{ key: RULE, value: false }], about: "answer" });

/** What the customer was told is right if it matches the current policy page. */
const isCorrect = (answer: Decision) => answer.claims?.find((c) => c.key === RULE)?.value === false;

/** A sycophantic second model that approves anything: it must not be enough. */
const yesModel = () =>
  new MockLanguageModelV3({
    doGenerate: async () => ({
      content: [{ type: "text", text: '{"verdict":"agree","reason":"Looks helpful."}' }],
      finishReason: { unified: "stop", raw: undefined },
      usage: { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } },
      warnings: [],
    }),
  });

function runtime(options: Parameters<typeof createRuntime>[0] = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 15));
  const rt = createRuntime({ clock, random: () => 0.5, onError: (e) => { throw e; }, ...options });
  return { rt, clock };
}

/** The scripted agent: look up both sources, answer from the FAQ; revise or insist when told. */
async function guardedAgent(run: Run, insist: boolean) {
  const sent: Decision[] = [];
  const told: string[] = [];
  await run.call(faqTool, {});
  await run.call(policyTool, {});
  let draft = draftFromFaq();
  for (let turn = 0; turn < 3; turn++) {
    const check = await run.verifyDecision(draft);
    told.push(check.message);
    if (check.verdict === "approved") {
      sent.push(draft);
      break;
    }
    if (check.handoff) break;
    draft = insist ? draftFromFaq() : draftFromPolicy();
  }
  return { sent, told };
}

describe("incident: bereavement fare", () => {
  it("bare agent (no Bulwark): the FAQ's answer goes out and contradicts the policy page", async () => {
    await faqLookup();
    await policyPage();
    const answer = draftFromFaq();
    expect(isCorrect(answer)).toBe(false);
  });

  it("the ledger keeps the policy page's value, whatever order the sources are read in", async () => {
    for (const order of [[faqTool, policyTool], [policyTool, faqTool]] as Tool[][]) {
      const { rt } = runtime();
      const run = rt.startRun({ agent: "support-bot" });
      const outcomes: Outcome<unknown>[] = [];
      for (const t of order) outcomes.push(await run.call(t, {}));
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(run.fact(RULE)).toMatchObject({ value: false, source: "policy-page" });
      if (order[1] === faqTool) {
        const faq = outcomes[1]!;
        expect(faq.ok && faq.notes?.[0]?.message).toContain("the current value is false, from policy-page");
      }
    }
  });

  it("with Bulwark the FAQ draft fails verification, even with an approving second model, and the agent is told the current policy", async () => {
    const { rt } = runtime({ verifiers: [modelVerifier({ model: yesModel(), name: "second-model" })] });
    const run = rt.startRun({ agent: "support-bot" });
    await run.call(faqTool, {});
    await run.call(policyTool, {});
    const check = await run.verifyDecision(draftFromFaq());
    expect(check.verdict).toBe("rejected");
    expect(check.agreed).toEqual(["second-model"]);
    expect(check.disagreed).toEqual(["facts"]);
    expect(check.message).toContain(`${RULE} is false (policy-page)`);
    expect(check.corrections[0]).toMatchObject({ key: RULE, claimed: true, current: false, source: "policy-page" });
    expect(run.mode).toBe("read_only");
    expect(run.confidence).toBeCloseTo(0.65);
  });

  it("an agent that revises its answer to the current policy gets it approved, and the answer is right", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "support-bot" });
    const { sent, told } = await guardedAgent(run, false);
    expect(sent).toHaveLength(1);
    expect(isCorrect(sent[0]!)).toBe(true);
    expect(told[0]).toContain("must not be sent");
    expect(run.handoff).toBeUndefined();
  });

  it("an agent that insists on the FAQ answer is handed off: nothing wrong is sent, and a person has the context", async () => {
    const { rt } = runtime();
    const run = rt.startRun({ agent: "support-bot" });
    const { sent, told } = await guardedAgent(run, true);
    expect(sent).toEqual([]);
    expect(run.mode).toBe("handed_off");
    expect(told.at(-1)).toContain("a person will follow up");
    const [h] = await rt.store.handoffs.list({ runId: run.id });
    expect(h).toMatchObject({ runId: run.id, agent: "support-bot", status: "open", reason: expect.stringContaining("a decision was rejected") });
    const ctx = h!.context as { facts: { current: { key: string; value: unknown }[] }; lastCalls: { tool: string }[]; lastDecisions: { verdict: string }[] };
    expect(ctx.facts.current).toEqual([expect.objectContaining({ key: RULE, value: false, source: "policy-page" })]);
    expect(ctx.lastCalls.map((c) => c.tool)).toEqual(["faq_lookup", "policy_page"]);
    expect(ctx.lastDecisions.map((d) => d.verdict)).toEqual(["rejected", "rejected"]);
    // After the handoff, every call tells the model to say that a person will follow up.
    const after = await run.call(policyTool, {});
    expect(after).toMatchObject({ ok: false, failure: { kind: "handed_off" } });
    if (!after.ok) expect(after.failure.message).toContain("a person will follow up");
  });
});

describe("incident: two equally trusted ledgers disagree on a balance", () => {
  const ledgerA = defineTool({ name: "ledger_a", effect: "read", execute: async () => ({ cents: 12_000 }), facts: (o: { cents: number }) => [{ key: "acct.42.balance_cents", value: o.cents, source: "ledger-a", authority: 1, asOf: "2026-01-15T00:00:00Z" }] });
  const ledgerB = defineTool({ name: "ledger_b", effect: "read", execute: async () => ({ cents: 8_000 }), facts: (o: { cents: number }) => [{ key: "acct.42.balance_cents", value: o.cents, source: "ledger-b", authority: 1, asOf: "2026-01-15T00:00:00Z" }] });

  it("bare agent: pays out from the first ledger it read", async () => {
    const send = vi.fn(async (a: { cents: number }) => ({ sent: a.cents }));
    const { cents } = await ledgerA.spec.execute({}, undefined as never);
    await ledgerB.spec.execute({}, undefined as never);
    await send({ cents });
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("with Bulwark no payment goes out: the contradiction hands the run off", async () => {
    const { rt } = runtime();
    const send = vi.fn(async (a: { cents: number }) => ({ sent: a.cents }));
    const payment = defineTool({ name: "send_payment", effect: "write", execute: send });
    const run = rt.startRun({ agent: "payments-bot" });
    expect((await run.call(ledgerA, {})).ok).toBe(true);
    const b = await run.call(ledgerB, {});
    expect(b).toMatchObject({ ok: false, failure: { kind: "contradiction" } });
    expect(run.fact("acct.42.balance_cents")).toBeUndefined();
    expect(run.mode).toBe("handed_off");
    const pay = await run.call(payment, { cents: 12_000 });
    expect(pay).toMatchObject({ ok: false, failure: { kind: "handed_off", detail: { handedOff: true } } });
    expect(send).not.toHaveBeenCalled();
    const check = await run.verifyDecision({ text: "Paying 120.00", claims: [{ key: "acct.42.balance_cents", value: 12_000 }] });
    expect(check.verdict).toBe("rejected");
    const [h] = await rt.store.handoffs.list({ runId: run.id });
    const contested = (h!.context as { facts: { contested: { key: string; contenders: { value: unknown }[] }[] } }).facts.contested;
    expect(contested).toEqual([{ key: "acct.42.balance_cents", contenders: [expect.objectContaining({ value: 12_000 }), expect.objectContaining({ value: 8_000 })] }]);
  });
});
