/**
 * Silent no-op and partial writes reported as success. The CRM answers "200 OK" to an
 * address change it did not make (or made for only some of the customer's records), and
 * the agent tells the customer it is done. Through Bulwark, read-your-writes reads the
 * records back: a write that cannot be confirmed is `write_unverified`, never success.
 * Incident: the agent told the customer "done" while the records do not say so.
 */
import { defineTool } from "../../tool.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

interface Change {
  customer: string;
  records: string[];
  address: string;
}

export const silentWrite: Scenario = {
  name: "silent-write",
  title: "silent no-op or partial write reported to the customer as done",
  episode: (o) => {
    const addresses = new Map<string, string>([
      ["billing", "1 Old Road"],
      ["shipping", "1 Old Road"],
      ["invoices", "1 Old Road"],
    ]);
    const intent: Change = { customer: "cus_88", records: ["billing", "shipping", "invoices"], address: "22 New Street" };
    let toldDone = false;
    return play(
      o,
      {},
      async ({ random, clock, agent, say }) => {
        const faults = createFaults({ random, clock });
        const partial = random.chance(0.5);
        const apply = (c: Change) => {
          for (const r of c.records) addresses.set(r, c.address);
          return { customer: c.customer, updated: c.records.length, status: "ok" };
        };
        const update = defineTool({
          name: "crm_update_address",
          effect: "write",
          output: shape({ customer: "string", updated: "number", status: "string" }),
          execute: inject(
            apply,
            partial
              ? faults.partialWrite<Change, ReturnType<typeof apply>>({
                  rate: o.faulty ? 0.6 : 0,
                  part: (c, r) => ({ ...c, records: c.records.slice(0, r.int(0, c.records.length - 1)) }),
                  reply: (c, out) => ({ ...out, updated: c.records.length }),
                })
              : faults.noopWrite({ rate: o.faulty ? 0.6 : 0, reply: (c: Change) => ({ customer: c.customer, updated: c.records.length, status: "ok" }) }),
            faults.latency({ ms: 100, jitterMs: 200 }),
          ),
          verify: (c: Change) => c.records.every((r) => addresses.get(r) === c.address) || "some records still have the old address",
        });
        const seen = await agent.try(update, intent);
        // It reports success without checking: whatever the call said is what it tells the customer.
        toldDone = seen.ok;
        say(`  the CRM ${partial ? "(partial write)" : "(no-op write)"} ${seen.ok ? "said OK; the agent tells the customer it is done" : `was refused: ${seen.kind}; the agent says it could not confirm`}`);
        return toldDone && intent.records.every((r) => addresses.get(r) === intent.address);
      },
      () => (toldDone && !intent.records.every((r) => addresses.get(r) === intent.address) ? 1 : 0),
    );
  },
};
