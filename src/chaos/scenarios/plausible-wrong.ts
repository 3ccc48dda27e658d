/**
 * A plausible but wrong value acted on. The exchange-rate service answers 1.12 where the
 * rate is 1.08: believable, well-formed, wrong. The agent converts a supplier payout
 * with it. No schema or range check can catch this; through Bulwark the payout is a
 * high-stakes decision checked by a second path (a reference-rate verifier with a veto)
 * before the money moves.
 * Incident: a payout more than 1% away from the true amount.
 */
import { defineTool } from "../../tool.js";
import type { Verifier } from "../../decide/verification.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

const RATE = 1.0843;
const KEY = "fx:EURUSD";

/** The second path: the central bank's reference rate, read independently. */
const referenceRate: Verifier = {
  name: "reference-rate",
  veto: true,
  verify(decision) {
    const claim = decision.claims?.find((c) => c.key === KEY);
    if (!claim || typeof claim.value !== "number") return { verdict: "abstain", reason: "no rate claimed" };
    const off = Math.abs(claim.value / RATE - 1);
    return off <= 0.01
      ? { verdict: "agree", reason: `within ${(off * 100).toFixed(2)}% of the reference rate` }
      : { verdict: "disagree", reason: `${claim.value} is ${(off * 100).toFixed(1)}% away from the reference rate ${RATE}` };
  },
};

export const plausibleWrong: Scenario = {
  name: "plausible-wrong",
  title: "a plausible but wrong exchange rate is acted on in a payout",
  episode: (o) => {
    const eur = 25_000;
    const payouts: number[] = [];
    return play(
      o,
      { verifiers: [referenceRate] },
      async ({ random, clock, agent, run, say }) => {
        const faults = createFaults({ random, clock });
        const fx = defineTool({
          name: "fx_rate",
          effect: "read",
          output: shape({ pair: "string", rate: "number" }),
          check: (r) => (r.rate > 0.5 && r.rate < 2 ? undefined : `rate ${r.rate} is outside 0.5 to 2`),
          execute: inject(
            () => ({ pair: "EURUSD", rate: RATE }),
            faults.wrongValue<{ pair: string; rate: number }>({
              rate: o.faulty ? 0.7 : 0,
              alter: (v, r) => ({ ...v, rate: Math.round(v.rate * (1 + (r.chance(0.5) ? 1 : -1) * (0.02 + 0.06 * r())) * 1e4) / 1e4 }),
            }),
          ),
          facts: (r) => [{ key: KEY, value: r.rate, source: "fx_api" }],
        });
        const pay = defineTool({
          name: "supplier_payout",
          effect: "write",
          execute: (a: { usd: number }) => {
            payouts.push(a.usd);
            return { paid: a.usd };
          },
          verify: (a) => payouts.includes(a.usd),
        });
        const seen = await agent.try(fx, {});
        if (!seen.ok) return false;
        const usd = Math.round(eur * seen.value.rate * 100) / 100;
        say(`  the rate service says ${seen.value.rate}; the agent will pay $${usd}`);
        if (run) {
          const v = await run.verifyDecision({ text: `Pay the supplier $${usd} for €${eur}.`, claims: [{ key: KEY, value: seen.value.rate }] });
          say(`  Bulwark checks the payout by a second path: ${v.verdict}`);
          if (v.verdict !== "approved") return false;
        }
        const paid = await agent.try(pay, { usd });
        return paid.ok && Math.abs(usd / (eur * RATE) - 1) <= 0.01;
      },
      () => payouts.filter((usd) => Math.abs(usd / (eur * RATE) - 1) > 0.01).length,
    );
  },
};
