import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const agg = new Map<string, number>(); let busy = 0;
for (const [id, t] of self) {
  const n0 = byId.get(id); if (n0.callFrame.functionName === "(idle)") continue; busy += t;
  let n = n0; let key = "(outside src) " + (n0.callFrame.functionName || n0.callFrame.url.split("/").pop());
  while (n) { const m = n.callFrame.url.match(/\/src\/(.*)\.ts/); if (m) { key = `${m[1]}:${n.callFrame.functionName || "(anon)"}${n === n0 ? "" : " <- " + (n0.callFrame.functionName || "?")}`; break; } n = byId.get(parent.get(n.id)!); }
  agg.set(key, (agg.get(key) ?? 0) + t);
}
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 30))) console.log(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
