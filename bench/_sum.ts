import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const self = new Map<number, number>();
const dts: number[] = p.timeDeltas;
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (dts[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const bucket = (url: string, fn: string) => {
  if (fn === "(idle)" || fn === "(program)" || fn === "(garbage collector)") return fn;
  const m = url.match(/\/src\/(.*)\.ts/);
  if (m) return m[1]!;
  if (url.includes("node_modules/pg")) return "pg driver";
  if (url.includes("better-sqlite3")) return "better-sqlite3";
  if (url.includes("@opentelemetry")) return "opentelemetry";
  if (url.startsWith("node:") || url === "") return `node:${fn === "" ? "(anon)" : ""}` + (url || fn);
  return url.replace(/.*node_modules\//, "nm/").split("/").slice(0, 2).join("/");
};
const agg = new Map<string, number>();
for (const [id, t] of self) { const n = byId.get(id); const b = bucket(n.callFrame.url, n.callFrame.functionName); agg.set(b, (agg.get(b) ?? 0) + t); }
const busy = total - (agg.get("(idle)") ?? 0);
console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms`);
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 25))) if (k !== "(idle)") console.log(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
