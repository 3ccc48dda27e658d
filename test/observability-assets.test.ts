/**
 * The Grafana dashboard and the Prometheus rules in deploy/ name only metrics (and labels)
 * that Bulwark exports: an agent process's registry and `bulwark serve`'s /metrics. With
 * promtool on the machine (Debian's prometheus package; required in CI), the rules also
 * pass `promtool check rules`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createRuntime } from "../src/index.js";
import { storeMetrics } from "../src/server/store-metrics.js";

const file = (p: string) => fileURLToPath(new URL(`../deploy/${p}`, import.meta.url));
const dashboard = JSON.parse(readFileSync(file("grafana/bulwark-dashboard.json"), "utf8")) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { definition?: string }[] } };
const rules = parse(readFileSync(file("prometheus/bulwark-rules.yml"), "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };

/** Every metric Bulwark exports, with its label names. */
async function exported(): Promise<Map<string, Set<string>>> {
  const registry = new Registry();
  const rt = createRuntime({ telemetry: { metrics: registry } });
  await rt.ready();
  const all = new Map<string, Set<string>>();
  for (const r of [registry, storeMetrics(rt)]) {
    for (const m of r.getMetricsAsArray()) {
      const labels = new Set((m as unknown as { labelNames: string[] }).labelNames);
      if (m.constructor.name === "Histogram") labels.add("le");
      all.set(m.name, labels);
    }
  }
  await rt.close();
  return all;
}

/** The metrics an expression names, each with the labels it filters or groups by. */
function named(expr: string): { metric: string; labels: string[] }[] {
  const out: { metric: string; labels: string[] }[] = [];
  const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(",").map((l) => l.trim()).filter(Boolean));
  for (const m of expr.matchAll(/\b(bulwark_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    let metric = m[1]!;
    const suffix = /_(bucket|sum|count)$/.exec(metric);
    const matchers = (m[3] ?? "").split(",").map((s) => s.trim().split(/[=!~]/)[0]!.trim()).filter(Boolean);
    if (suffix) metric = metric.slice(0, -suffix[0].length);
    out.push({ metric, labels: [...matchers, ...grouping] });
  }
  return out;
}

describe("deploy/: the Grafana dashboard and the Prometheus rules", () => {
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr }))),
    ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: "dashboard variable", expr: v.definition! })),
    ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }))),
  ];

  it("name only metrics and labels that exist", async () => {
    const metrics = await exported();
    expect(exprs.length).toBeGreaterThan(30);
    const problems: string[] = [];
    for (const { where, expr } of exprs) {
      const found = named(expr);
      if (found.length === 0) problems.push(`${where}: names no Bulwark metric`);
      for (const { metric, labels } of found) {
        const known = metrics.get(metric);
        if (!known) {
          problems.push(`${where}: ${metric} is not exported`);
          continue;
        }
        // A label grouped by may belong to another metric of the expression; one filtered on must be this one's.
        for (const l of labels) if (![...found].some((f) => metrics.get(f.metric)?.has(l))) problems.push(`${where}: no metric of it has the label ${l}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("cover what a Grafana user expects", async () => {
    const used = new Set(exprs.flatMap(({ expr }) => named(expr).map((n) => n.metric)));
    for (const m of ["bulwark_tool_call_duration_seconds", "bulwark_tool_calls_in_flight", "bulwark_tool_call_retries_total", "bulwark_approval_pending_age_seconds", "bulwark_runs", "bulwark_alerts", "bulwark_drift_statistic", "bulwark_breaker_state", "bulwark_store_breaker_state"])
      expect(used, m).toContain(m);
  });

  const promtool = spawnSync("promtool", ["--version"]).status === 0;
  it.runIf(promtool || process.env.CI)("the rules pass promtool check rules", () => {
    const out = execFileSync("promtool", ["check", "rules", file("prometheus/bulwark-rules.yml")], { encoding: "utf8" });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });
});
