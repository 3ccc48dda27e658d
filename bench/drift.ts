/**
 * The monitors' false-alarm rate and detection delay, measured on seeded synthetic streams
 * with the runtime's defaults (`npx tsx bench/drift.ts`, ~1 min).
 *
 * Decisions (chi-square + PSI; baseline 300, window 200, check every 10, alpha 1e-4): the
 * refund mix of the chaos suite, 55/35/10 approve/deny/escalate; false alarms over 2,000
 * stable observations after the baseline; delay after a shift to 90/8/2 (large) and to
 * 65/28/7 (small).
 * Texts (hashed 3-grams + Jensen-Shannon; blocks of 50, 8 baseline blocks, margin 3):
 * templated support replies with random fields; false alarms over 40 stable blocks; delay
 * after a shift to error texts (large) and after a tenth of the replies change wording (small).
 */
import { seeded, type Random } from "../src/chaos/random.js";
import { driftDefaults, newCategoricalState, observeCategorical } from "../src/telemetry/drift.js";
import { newSemanticState, observeText, semanticDefaults } from "../src/telemetry/semantic.js";

type Mix = [string, number][];
const base: Mix = [["approve", 0.55], ["deny", 0.35], ["escalate", 0.1]];
const large: Mix = [["approve", 0.9], ["deny", 0.08], ["escalate", 0.02]];
const small: Mix = [["approve", 0.65], ["deny", 0.28], ["escalate", 0.07]];
const draw = (r: Random, mix: Mix) => {
  let u = r();
  for (const [k, p] of mix) if ((u -= p) < 0) return k;
  return mix[mix.length - 1]![0];
};

const SEEDS = 300;
const pct = (xs: number[], q: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const summary = (delays: number[], missed: number) =>
  `median ${pct(delays, 0.5)}, p90 ${pct(delays, 0.9)}, max ${Math.max(...delays)} observations; missed ${missed} of ${SEEDS}`;

function decisions() {
  const o = driftDefaults;
  let falseRuns = 0;
  let checks = 0;
  let falseChecks = 0;
  for (let s = 1; s <= SEEDS; s++) {
    const r = seeded(s);
    const st = newCategoricalState();
    let alarmed = false;
    for (let i = 0; i < o.baseline + 2000; i++) {
      const c = observeCategorical(st, draw(r, base), o);
      if (!c) continue;
      checks++;
      if (st.drifting) {
        falseChecks++;
        alarmed = true;
      }
    }
    if (alarmed) falseRuns++;
  }
  console.log(`decisions, stable: ${falseRuns} of ${SEEDS} streams of 2,000 observations had a false alarm; ${falseChecks} of ${checks} checks (${((100 * falseChecks) / checks).toFixed(3)}%)`);
  for (const [name, mix] of [["large shift (55/35/10 → 90/8/2)", large], ["small shift (55/35/10 → 65/28/7)", small]] as const) {
    const delays: number[] = [];
    let missed = 0;
    for (let s = 1; s <= SEEDS; s++) {
      const r = seeded(1000 + s);
      const st = newCategoricalState();
      for (let i = 0; i < o.baseline + 500; i++) observeCategorical(st, draw(r, base), o);
      let at = -1;
      for (let i = 0; i < 2000 && at < 0; i++) if (observeCategorical(st, draw(r, mix), o) && st.drifting) at = i + 1;
      if (at < 0) missed++;
      else delays.push(at);
    }
    console.log(`decisions, ${name}: detected after ${summary(delays, missed)}`);
  }
}

const cities = ["Paris", "Lyon", "Nice", "Lille", "Nantes", "Brest", "Metz", "Dijon"];
const statuses = ["shipped", "delivered", "in transit", "awaiting pickup"];
const reply = (r: Random) => `Order ${Math.floor(r() * 1e6)} is ${statuses[Math.floor(r() * statuses.length)]} to ${cities[Math.floor(r() * cities.length)]}; ${Math.floor(r() * 5) + 1} parcels, ETA ${Math.floor(r() * 28) + 1} Nov.`;
const errorText = (r: Random) => `ERROR upstream timeout: request ${Math.floor(r() * 1e6)} rejected by gateway (code E${Math.floor(r() * 900) + 100}); retry later`;
const reworded = (r: Random) => (r() < 0.1 ? `Your parcel ${Math.floor(r() * 1e6)} could not be found; please contact the carrier.` : reply(r));

function texts() {
  const o = semanticDefaults;
  let falseRuns = 0;
  let checks = 0;
  let falseChecks = 0;
  for (let s = 1; s <= SEEDS; s++) {
    const r = seeded(s);
    const st = newSemanticState();
    let alarmed = false;
    for (let i = 0; i < o.block * (o.baselineBlocks + 40); i++) {
      if (!observeText(st, reply(r), o)) continue;
      checks++;
      if (st.drifting) {
        falseChecks++;
        alarmed = true;
      }
    }
    if (alarmed) falseRuns++;
  }
  console.log(`texts, stable: ${falseRuns} of ${SEEDS} streams of 40 blocks (2,000 texts) had a false alarm; ${falseChecks} of ${checks} checks (${((100 * falseChecks) / checks).toFixed(3)}%)`);
  for (const [name, make] of [["large shift (replies → error texts)", errorText], ["small shift (1 in 10 replies reworded)", reworded]] as const) {
    const delays: number[] = [];
    let missed = 0;
    for (let s = 1; s <= SEEDS; s++) {
      const r = seeded(1000 + s);
      const st = newSemanticState();
      // The shift starts at a random point inside a block, as it would.
      const lead = o.block * o.baselineBlocks + Math.floor(r() * o.block) + o.block * 2;
      for (let i = 0; i < lead; i++) observeText(st, reply(r), o);
      let at = -1;
      for (let i = 0; i < o.block * 40 && at < 0; i++) if (observeText(st, make(r), o) && st.drifting) at = i + 1;
      if (at < 0) missed++;
      else delays.push(at);
    }
    console.log(`texts, ${name}: detected after ${summary(delays, missed)}`);
  }
}

decisions();
texts();
