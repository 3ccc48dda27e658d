/**
 * A slow tool and a deadline. The customer is promised an answer within 30 seconds;
 * the order service sometimes takes a minute, sometimes never answers. The bare agent
 * waits as long as it takes. Through Bulwark each call has a timeout and the run a
 * deadline, so the agent answers in time with what it has ("I cannot check right now").
 * Incident: the customer waited longer than the 30-second promise.
 */
import { defineTool } from "../../tool.js";
import { createFaults, inject } from "../faults.js";
import { play, type Scenario } from "../scenario.js";
import { shape } from "../shape.js";

const PROMISE_MS = 30_000;

export const slowTool: Scenario = {
  name: "slow-tool",
  title: "slow tool and deadlines: the customer waits past the promised time",
  episode: (o) => {
    let waitedMs = 0;
    return play(
      o,
      { policy: { deadlineMs: 25_000 } },
      async ({ random, clock, agent, say }) => {
        const faults = createFaults({ random, clock });
        const hangs = random.chance(0.4);
        const status = defineTool({
          name: "order_status",
          effect: "read",
          timeoutMs: 4_000,
          retry: { maxAttempts: 2, baseDelayMs: 250 },
          output: shape({ order: "string", status: "string" }),
          execute: inject(
            (a: { order: string }) => ({ order: a.order, status: "shipped" }),
            faults.latency({ ms: 200, jitterMs: 1_500 }),
            hangs ? faults.hang({ rate: o.faulty ? 0.8 : 0, ms: 600_000 }) : faults.latency({ rate: o.faulty ? 0.8 : 0, ms: 35_000, jitterMs: 60_000 }),
          ),
        });
        const start = clock.now();
        const seen = await agent.try(status, { order: "ord_5521" });
        waitedMs = clock.now() - start;
        say(`  the agent answers after ${Math.round(waitedMs / 1000)}s: ${seen.ok ? `order ${seen.value.status}` : "cannot check right now, will follow up"}`);
        return seen.ok && waitedMs <= PROMISE_MS;
      },
      () => (waitedMs > PROMISE_MS ? 1 : 0),
    );
  },
};
