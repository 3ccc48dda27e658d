/**
 * Where a guarded call's time goes, by stage: runs read or write calls (as bench/runs.ts
 * does) under the V8 CPU profiler (node:inspector) and charges each sample to the stage
 * of the nearest Bulwark frame on its stack (the file it is in: admission, idempotency,
 * execute, record and settle, telemetry, the store…; garbage collection and the event
 * loop's own work apart). Percentages of the busy time, not of the wall clock.
 *   npx tsx bench/profile.ts [--store memory|sqlite|pg] [--kind read|write] [--inflight 1] [--ms 3000] [--save out.cpuprofile]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session, type Profiler } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRuntime, defineTool } from "../src/index.js";
import { dropSchemas, PG_URL } from "./workload.js";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};

/** The stage a source file of Bulwark's belongs to (first match), by its path under src/. */
const STAGES: [string, RegExp][] = [
  ["admission (run state, limits, reservation)", /^(admit|stages\/admission|run-state|run-record|decide\/gate|policy|live-runs)$/],
  ["validate input, rules", /^(stages\/validate-input|stages\/rules|schema|standard-schema|json-schema)$/],
  ["approval", /^stages\/approval$/],
  ["idempotency (key, claim, stop check, lease)", /^(stages\/idempotency|canonical-json|lease)$/],
  ["execute (attempt, timeout, retry)", /^(stages\/execute|attempt|resilience\/.*)$/],
  ["validate output, facts, verify", /^(stages\/validate-output|stages\/facts|stages\/verify|probe|decide\/ledger)$/],
  ["record and settle (key, ledger, history)", /^(stages\/record|settle-call|redact|decide\/.*)$/],
  ["telemetry (spans, metrics, monitors)", /^telemetry\/.*$/],
  ["store", /^store\/.*$/],
  ["the call's plumbing (run, stages loop, ids, failures)", /.*/],
];

function stageOf(file: string): string {
  return STAGES.find(([, re]) => re.test(file))![0];
}

/** Busy time by stage, in percent, from a CPU profile. */
export function byStage(p: Profiler.Profile): [string, number][] {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map<string, number>();
  let busy = 0;
  p.samples!.forEach((id, i) => {
    const dt = p.timeDeltas![i] ?? 0;
    const leaf = nodes.get(id)!;
    const fn = leaf.callFrame.functionName;
    if (fn === "(idle)") return;
    busy += dt;
    let stage = fn === "(garbage collector)" ? "garbage collection" : "outside Bulwark (promises, timers, driver, the bench)";
    for (let n: Profiler.ProfileNode | undefined = leaf; n && stage.startsWith("outside"); n = nodes.get(parent.get(n.id)!)) {
      const m = /\/src\/(.+)\.ts$/.exec(n.callFrame.url);
      if (m) stage = stageOf(m[1]!);
    }
    totals.set(stage, (totals.get(stage) ?? 0) + dt);
  });
  return [...totals].map(([s, t]): [string, number] => [s, (100 * t) / busy]).sort((a, b) => b[1] - a[1]);
}

async function main() {
  const storeKind = arg("store", "memory");
  const kind = arg("kind", "write") as "read" | "write";
  const inflight = Number(arg("inflight", "1"));
  const ms = Number(arg("ms", "3000"));
  const dir = mkdtempSync(join(tmpdir(), "bulwark-profile-"));
  const schema = `bulwark_profile_${randomBytes(4).toString("hex")}`;
  const store = storeKind === "pg" ? `${PG_URL}?schema=${schema}` : storeKind === "sqlite" ? `sqlite:${join(dir, "p.db")}` : "memory";
  const read = defineTool({ name: "bench_read", effect: "read", execute: async (a: { i: number }) => ({ n: a.i }) });
  const write = defineTool({ name: "bench_write", effect: "write", execute: async (a: { r: string; i: number }) => ({ id: `${a.r}-${a.i}` }), verify: async () => true });
  const rt = createRuntime({ store, policy: { maxSteps: 1e9, maxUnverifiedDepth: 1e9 } });
  const session = new Session();
  try {
    await rt.ready();
    const runs = Array.from({ length: inflight }, (_, k) => rt.startRun({ agent: "bench", runId: `p-${k}` }));
    await Promise.all(runs.map((r) => r.ready()));
    const loop = async (until: number) => {
      let n = 0;
      await Promise.all(
        runs.map(async (run, k) => {
          for (let i = 0; Date.now() < until; i++, n++) {
            const o = await (kind === "read" ? run.call(read, { i }) : run.call(write, { r: `p${k}-${until}`, i }));
            if (!o.ok) throw new Error(`${kind} call failed: ${o.failure.message}`);
          }
        }),
      );
      return n;
    };
    await loop(Date.now() + 300); // warm: compiled, statements prepared
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    const n = await loop(Date.now() + ms);
    const { profile } = await session.post("Profiler.stop");
    const save = arg("save", "");
    if (save) writeFileSync(save, JSON.stringify(profile));
    console.log(`${storeKind} ${kind}, ${inflight} in flight: ${Math.round((n * 1000) / ms)} calls/s (under the profiler)\n`);
    console.log("| where | share of busy time |\n|---|---:|");
    for (const [stage, pct] of byStage(profile)) console.log(`| ${stage} | ${pct.toFixed(1)}% |`);
  } finally {
    session.disconnect();
    await rt.close();
    rmSync(dir, { recursive: true, force: true });
    if (storeKind === "pg") await dropSchemas([schema]);
  }
}

await main();
