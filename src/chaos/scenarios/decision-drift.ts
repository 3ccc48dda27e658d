/**
 * Drift of the agent's decisions. A refund agent approves about half of the requests it
 * sees; after a model update it starts approving nine in ten. Nothing fails and no
 * call errs, so nothing but the distribution of its decisions shows it. Through
 * Bulwark, the agent reports each decision (`run.observe`) and the runtime's monitor
 * compares a window of recent decisions with a baseline, in the store, and raises a drift
 * alert. An alert that fires on a healthy twin is a false halt.
 * Incident: the shift went on for 200 decisions with no alert.
 */
import { randomUUID } from "node:crypto";
import { play, type Scenario } from "../scenario.js";

const ALERT_WITHIN = 200;
const DECISIONS = 1000;
/** How often the agent's process merges its observations into the monitor and looks for an alert. */
const LOOK_EVERY = 10;
type Mix = [string, number][];
const before: Mix = [
  ["approve", 0.55],
  ["deny", 0.35],
  ["escalate", 0.1],
];
const after: Mix = [
  ["approve", 0.9],
  ["deny", 0.08],
  ["escalate", 0.02],
];

export const decisionDrift: Scenario = {
  name: "decision-drift",
  title: "drift of the agent's decisions: no alert within 200 decisions",
  episode: (o) => {
    // A monitor watches an agent across every process on the store and keeps its baseline
    // there: each episode is an agent of its own, or episodes sharing a store (the demo,
    // `chaos --store`) would judge one agent's decisions against another's.
    const agentName = `refund-agent-${randomUUID().slice(0, 8)}`;
    let shiftAt = Infinity;
    let alertedAt: number | undefined;
    let falseAlerts = 0;
    return play(
      o,
      { agent: agentName },
      async ({ agent, run, runtime, say }) => {
        shiftAt = o.faulty ? agent.random.int(500, 700) : Infinity;
        for (let i = 0; i < DECISIONS; i++) {
          let u = agent.random();
          const mix = i >= shiftAt ? after : before;
          let decision = mix[mix.length - 1]![0];
          for (const [k, p] of mix) if ((u -= p) < 0) {
            decision = k;
            break;
          }
          run?.observe("refund decision", decision);
          if (!runtime?.monitors || i % LOOK_EVERY !== LOOK_EVERY - 1 || alertedAt !== undefined || falseAlerts > 0) continue;
          await runtime.monitors.flush();
          await runtime.alerts.flush();
          const alert = (await runtime.alerts.list({ state: "firing" })).find((a) => a.kind === "drift" && a.agent === agentName);
          if (!alert) continue;
          if (i < shiftAt) falseAlerts++;
          else {
            alertedAt = i;
            say(`  decision ${i}: ${alert.summary}`);
          }
        }
        return falseAlerts === 0;
      },
      () => (shiftAt < Infinity && (alertedAt === undefined || alertedAt - shiftAt > ALERT_WITHIN) ? 1 : 0),
    );
  },
};
