/**
 * Lost response on a payment. The payment API charges the card, then the connection
 * drops before the answer arrives; the agent retries, and in a later turn pays again
 * because it lost track. Bare, the customer is charged twice. Through Bulwark the tool
 * forwards `ctx.idempotencyKey`, the API deduplicates like Stripe, and a repeat of the
 * same intent in the same run replays the recorded outcome.
 * Incident: every charge beyond the first for one invoice.
 */
import { defineTool } from "../../tool.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

interface Charge {
  id: string;
  invoice: string;
  amountCents: number;
}

/** A payment API that deduplicates by idempotency key, as Stripe does. */
export class PaymentApi {
  readonly charges: Charge[] = [];
  private readonly byKey = new Map<string, Charge>();

  constructor(private readonly say: (line: string) => void = () => {}) {}

  charge(invoice: string, amountCents: number, idempotencyKey?: string): Charge {
    const earlier = idempotencyKey ? this.byKey.get(idempotencyKey) : undefined;
    if (earlier) {
      this.say(`    the API sees idempotency key ${idempotencyKey!.slice(0, 14)}… again: returns ${earlier.id}, charges nothing`);
      return earlier;
    }
    const c = { id: `ch_${this.charges.length + 1}`, invoice, amountCents };
    this.say(`    the API charges the card: ${c.id}${idempotencyKey ? "" : " (no idempotency key)"}`);
    this.charges.push(c);
    if (idempotencyKey) this.byKey.set(idempotencyKey, c);
    return c;
  }

  chargedWith(idempotencyKey: string | undefined) {
    return idempotencyKey !== undefined && this.byKey.has(idempotencyKey);
  }

  chargesFor(invoice: string) {
    return this.charges.filter((c) => c.invoice === invoice);
  }
}

export const paymentLostResponse: Scenario = {
  name: "payment-lost-response",
  title: "lost response on a payment: the agent pays again (duplicate charge)",
  episode: (o) => {
    const api = new PaymentApi((l) => o.narrate?.(l));
    const invoice = { id: "inv_1042", amountCents: 12_900 };
    return play(
      o,
      {},
      async ({ random, clock, agent, say }) => {
        const faults = createFaults({ random, clock });
        const pay = defineTool({
          name: "pay_invoice",
          effect: "write",
          output: shape({ id: "string", invoice: "string", amountCents: "number" }),
          execute: inject(
            (a: { invoice: string; amountCents: number }, ctx) => api.charge(a.invoice, a.amountCents, ctx.idempotencyKey),
            faults.latency({ ms: 150, jitterMs: 300 }),
            faults.lostResponse({ rate: o.faulty ? 0.5 : 0 }),
          ),
          verify: (_a, _out, ctx) => api.chargedWith(ctx.idempotencyKey),
          retry: { maxAttempts: 4, baseDelayMs: 200 },
        });
        say(`The agent pays invoice ${invoice.id} ($${invoice.amountCents / 100}).`);
        const first = await agent.try(pay, { invoice: invoice.id, amountCents: invoice.amountCents });
        say(`  what the agent saw: ${agent.tried.join(", then ")}${first.ok ? ` (charge ${first.value.id})` : ""}`);
        clock.skip(30_000);
        const again = await agent.maybeRepeat(pay, { invoice: invoice.id, amountCents: invoice.amountCents });
        if (again) say(`  a later turn, it pays again (it lost track): ${again.ok ? `answered with charge ${again.value.id}` : again.error}`);
        const charged = api.chargesFor(invoice.id).length;
        say(`  the card was charged ${charged} time${charged === 1 ? "" : "s"}.`);
        return (first.ok || again?.ok === true) && charged === 1;
      },
      () => Math.max(0, api.chargesFor(invoice.id).length - 1),
    );
  },
};
