/**
 * Brownout of one API. The inventory service goes down; eight support sessions in the
 * next minute each look a product up, and each careless agent retries on any error.
 * Bare, the dead service takes a storm of calls that cannot succeed and slow its
 * recovery. Through Bulwark, bounded retries under a retry budget and a breaker shared
 * by every run cut it off after a handful of failures.
 * Incident: every call that reaches the service after it has already failed 10 times in
 * a row (a call a breaker would have refused).
 */
import { defineTool } from "../../tool.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

const STORM_AFTER = 10;

export const brownout: Scenario = {
  name: "brownout",
  title: "brownout of one API: retry storm into a dependency that is down",
  episode: (o) => {
    let failedInARow = 0;
    let intoTheStorm = 0;
    let down = false;
    const lookup = (a: { sku: string }) => {
      if (down) {
        if (++failedInARow > STORM_AFTER) intoTheStorm++;
        throw new Error("503 Service Unavailable");
      }
      failedInARow = 0;
      return { sku: a.sku, inStock: a.sku.length };
    };
    return play(
      o,
      { habits: { retriesOnError: 3 } },
      async ({ random, clock, say, session }) => {
        const faults = createFaults({ random, clock });
        const outageFrom = clock.now() + random.int(0, 5_000);
        const stock = defineTool({
          name: "inventory_lookup",
          effect: "read",
          output: shape({ sku: "string", inStock: "number" }),
          execute: inject((a: { sku: string }) => {
            down = o.faulty && clock.now() >= outageFrom;
            return lookup(a);
          }, faults.latency({ ms: 80, jitterMs: 120 })),
        });
        let answered = 0;
        for (let i = 0; i < 8; i++) {
          const agent = session();
          const seen = await agent.try(stock, { sku: `sku-${random.int(100, 999)}` });
          if (seen.ok) answered++;
          say(`  session ${i + 1}: ${agent.tried.join(", ")}; calls into the dead service after ${STORM_AFTER} failures in a row: ${intoTheStorm}`);
          clock.skip(random.int(2_000, 8_000));
        }
        return answered === 8;
      },
      () => intoTheStorm,
    );
  },
};
