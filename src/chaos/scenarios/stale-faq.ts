/**
 * A stale FAQ against the policy page (the bereavement-fare incident). The support bot
 * reads the FAQ first and answers from it: "you can claim the bereavement fare after
 * travel". The policy page, updated since, says the opposite. Through Bulwark both pages
 * declare the fact with its date; the FAQ's answer is older than the run allows
 * (`stale_data`), so the bot turns to the policy page, and the answer is checked against
 * the facts ledger before it is given (`run.verifyDecision`).
 * Incident: the customer is told something the policy page contradicts.
 */
import { defineTool } from "../../tool.js";
import { play, type Scenario } from "../scenario.js";
import { SIM_START } from "../sim-clock.js";

const KEY = "bereavement.claimAfterTravel";
const DAY = 86_400_000;

export const staleFaq: Scenario = {
  name: "stale-faq",
  title: "stale FAQ against the policy page: the customer is told the wrong policy",
  episode: (o) => {
    const policyPage = { claimAfterTravel: false, updated: SIM_START - 20 * DAY };
    let told: boolean | undefined;
    return play(
      o,
      { habits: { retriesOnError: 0 }, policy: { maxFactAgeMs: 365 * DAY } },
      async ({ agent, run, random, say }) => {
        const faq = o.faulty
          ? { claimAfterTravel: true, updated: SIM_START - random.int(400, 1500) * DAY }
          : { claimAfterTravel: false, updated: SIM_START - random.int(1, 300) * DAY };
        const page = (name: string, content: typeof faq, authority: number) =>
          defineTool({
            name,
            effect: "read",
            execute: () => ({ ...content }),
            facts: (out: typeof faq) => [{ key: KEY, value: out.claimAfterTravel, source: name, asOf: out.updated, authority }],
          });
        const sources = [page("faq", faq, 0), page("policy_page", policyPage, 1)];
        let answer: boolean | undefined;
        for (const source of sources) {
          const seen = await agent.try(source, {});
          say(`  it reads the ${source.name}: ${seen.ok ? `claim after travel = ${seen.value.claimAfterTravel}` : `refused (${seen.kind})`}`);
          if (seen.ok) {
            // It acts on the first source it could read.
            answer = seen.value.claimAfterTravel;
            break;
          }
        }
        if (answer === undefined) return false;
        if (run) {
          const v = await run.verifyDecision({ text: `You ${answer ? "can" : "cannot"} claim the bereavement fare after travel.`, claims: [{ key: KEY, value: answer }] });
          say(`  Bulwark checks the answer against the facts ledger: ${v.verdict}`);
          if (v.verdict !== "approved") return false;
        }
        told = answer;
        say(`  the customer is told: you ${answer ? "CAN" : "cannot"} claim it after travel.`);
        return answer === policyPage.claimAfterTravel;
      },
      () => (told !== undefined && told !== policyPage.claimAfterTravel ? 1 : 0),
    );
  },
};
