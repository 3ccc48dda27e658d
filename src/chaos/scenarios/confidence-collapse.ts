/**
 * Confidence collapse that should hand off. The tracking service returns garbage; the
 * agent, asked for a delivery date, guesses one and tells the customer. Through Bulwark
 * each answer is checked against the facts the run established (`run.verifyDecision`):
 * a guess is rejected, confidence falls, the run narrows to reading, and a second
 * rejected guess hands the customer to a person, with the context.
 * Incident: the customer got a wrong delivery date, or no answer and no person.
 */
import { defineTool } from "../../tool.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export const confidenceCollapse: Scenario = {
  name: "confidence-collapse",
  title: "confidence collapse: the agent guesses instead of handing off",
  episode: (o) => {
    const truth = "Thursday";
    let told: string | undefined;
    let handedOff = false;
    return play(
      o,
      { habits: { retriesOnError: 1 }, policy: { maxConsecutiveFailures: 4 } },
      async ({ random, clock, agent, run, say }) => {
        const faults = createFaults({ random, clock });
        const tracking = defineTool({
          name: "tracking",
          effect: "read",
          output: shape({ order: "string", deliveryDay: "string" }),
          check: (t) => (DAYS.includes(t.deliveryDay) ? undefined : `deliveryDay ${JSON.stringify(t.deliveryDay)} is not a weekday`),
          execute: inject((a: { order: string }) => ({ order: a.order, deliveryDay: truth }), faults.malformed({ rate: o.faulty ? 1 : 0 })),
          facts: (t) => [{ key: "delivery:ord_77", value: t.deliveryDay, source: "tracking" }],
        });
        const seen = await agent.try(tracking, { order: "ord_77" });
        // When it has nothing, it guesses (as models do), up to twice.
        for (let i = 0; i < 2; i++) {
          const day = seen.ok ? seen.value.deliveryDay : random.pick(DAYS);
          say(`  the agent ${seen.ok ? "read" : "guesses"} the delivery day: ${day}`);
          if (run) {
            const v = await run.verifyDecision({ text: `Your order arrives on ${day}.`, claims: [{ key: "delivery:ord_77", value: day }] });
            say(`  Bulwark checks the answer: ${v.verdict}; confidence ${v.confidence}${v.handoff ? "; handed to a person" : ""}`);
            if (v.handoff || run.mode === "handed_off") {
              handedOff = true;
              say("  the customer is told: a person will follow up with the delivery date.");
              return false;
            }
            if (v.verdict !== "approved") continue;
          }
          told = day;
          say(`  the customer is told: it arrives on ${day}.`);
          return day === truth;
        }
        return false;
      },
      () => (told !== undefined ? (told === truth ? 0 : 1) : handedOff ? 0 : 1),
    );
  },
};
