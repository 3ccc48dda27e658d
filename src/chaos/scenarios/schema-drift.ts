/**
 * Schema drift travelling downstream. The pricing API ships a change: a field is
 * renamed, a number comes back as text, the body is cut off, or cents become hundredths
 * of cents. The agent trusts the answer and refunds what it computed from it. Through
 * Bulwark the output schema and a semantic check stop the answer at the boundary, so
 * nothing downstream acts on it.
 * Incident: a refund whose amount or currency is not the true one.
 */
import { defineTool } from "../../tool.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

interface Price {
  sku: string;
  priceCents: number;
  taxCents: number;
  currency: string;
}

export const schemaDrift: Scenario = {
  name: "schema-drift",
  title: "schema drift: a malformed price travels downstream into a refund",
  episode: (o) => {
    const truth: Price = { sku: "sku-7", priceCents: 4_900, taxCents: 392, currency: "EUR" };
    const refunds: { amount: unknown; currency: unknown }[] = [];
    return play(
      o,
      {},
      async ({ random, clock, agent, say }) => {
        const faults = createFaults({ random, clock });
        const price = defineTool({
          name: "get_price",
          effect: "read",
          output: shape({ sku: "string", priceCents: "number", taxCents: "number", currency: "string" }),
          check: (p) =>
            p.priceCents <= 0 || p.priceCents > 100_000
              ? `priceCents ${p.priceCents} is outside the catalogue's range (1 to 100000)`
              : p.taxCents < 0 || p.taxCents > p.priceCents * 0.3
                ? `taxCents ${p.taxCents} is not a plausible tax on ${p.priceCents}`
                : !/^[A-Z]{3}$/.test(p.currency)
                  ? `currency ${JSON.stringify(p.currency)} is not an ISO code`
                  : undefined,
          execute: inject((a: { sku: string }): Price => ({ ...truth, sku: a.sku }), faults.malformed({ rate: o.faulty ? 0.7 : 0 })),
        });
        const refund = defineTool({
          name: "issue_refund",
          effect: "write",
          execute: (a: { amount: unknown; currency: unknown }) => {
            refunds.push(a);
            return { refunded: a.amount };
          },
          verify: (a) => refunds.some((r) => r.amount === a.amount),
        });
        const seen = await agent.try(price, { sku: truth.sku });
        if (!seen.ok) {
          say(`  the price was refused at the boundary (${seen.kind}); the agent cannot refund blindly`);
          return false;
        }
        // It trusts the answer as it came.
        const p = seen.value as unknown as Record<string, unknown>;
        const amount = (p.priceCents as number) + (p.taxCents as number);
        say(`  the agent read ${JSON.stringify(seen.value)} and refunds ${String(amount)} ${String(p.currency)}`);
        const r = await agent.try(refund, { amount, currency: p.currency });
        return r.ok && amount === truth.priceCents + truth.taxCents;
      },
      () => refunds.filter((r) => r.amount !== truth.priceCents + truth.taxCents || r.currency !== truth.currency).length,
    );
  },
};
