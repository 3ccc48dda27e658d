// Charts of the drift monitors, drawn with uPlot (served by `bulwark serve` from the
// package at /vendor/uplot.js; nothing from the network). For a decision monitor: its
// baseline and its latest window side by side, per category, and its drift statistic
// over time with the moments its alerts fired. Each chart is a canvas; its numbers are
// also written as text beside it, for screen readers and for tests.

/* global uPlot */

import { h } from "./dom.js";

const BASELINE = "#5b7db1";
const WINDOW = "#d9822b";
const ALERT = "#c23030";

/** Shares (0..1) of each category in a count map. */
function shares(counts, categories) {
  const n = Object.values(counts ?? {}).reduce((a, b) => a + b, 0) || 1;
  return categories.map((c) => (counts?.[c] ?? 0) / n);
}

/** Without uPlot (an optional peer of the package), a chart is a line saying how to get it. */
function missing() {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = "Charts need the package uplot next to bulwark: npm install uplot";
  return p;
}

/** The baseline and latest window of a decision monitor, as grouped bars. */
export function distributionChart(monitor, width = 360) {
  if (typeof uPlot === "undefined") return missing();
  const last = monitor.state.last;
  const baseline = monitor.state.baseline;
  const windowCounts = last?.window ?? {};
  const categories = [...new Set([...Object.keys(baseline), ...Object.keys(windowCounts)])].sort();
  const xs = categories.map((_, i) => i);
  const bars = uPlot.paths.bars;
  const el = document.createElement("div");
  el.className = "chart";
  el.dataset.chart = "distribution";
  new uPlot(
    {
      width,
      height: 180,
      legend: { live: false },
      cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, categories.length - 0.5] }, y: { range: [0, 1] } },
      axes: [
        { values: (_, ticks) => ticks.map((t) => categories[t] ?? ""), splits: () => xs },
        { values: (_, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
      ],
      series: [
        { label: "decision" },
        { label: "baseline", fill: BASELINE, stroke: BASELINE, paths: bars({ size: [0.35], align: -1 }), points: { show: false } },
        { label: last ? "latest window" : "window (not full yet)", fill: WINDOW, stroke: WINDOW, paths: bars({ size: [0.35], align: 1 }), points: { show: false } },
      ],
    },
    [xs, shares(baseline, categories), shares(windowCounts, categories)],
    el,
  );
  return el;
}

/**
 * The drift statistic of a monitor over its recent checks (PSI for decisions, the
 * Jensen-Shannon divergence for texts, the count for spikes), with its threshold where
 * it has one and a red mark where an alert of it fired.
 */
export function statisticChart(monitor, alerts, width = 360) {
  if (typeof uPlot === "undefined") return missing();
  const history = monitor.history ?? [];
  const el = document.createElement("div");
  el.className = "chart";
  el.dataset.chart = "statistic";
  if (history.length < 2) {
    el.append(Object.assign(document.createElement("p"), { className: "empty", textContent: "Not enough checks yet to draw a trend." }));
    return el;
  }
  const xs = history.map((p) => p.at / 1000);
  const fired = alerts.map((a) => a.firstAt / 1000);
  const name = monitor.kind === "decision" ? "PSI" : monitor.kind === "text" ? "Jensen-Shannon" : "failures per minute";
  const series = [{}, { label: name, stroke: WINDOW, width: 2 }];
  const data = [xs, history.map((p) => p.value)];
  if (history.some((p) => typeof p.threshold === "number")) {
    series.push({ label: "threshold", stroke: "#888", dash: [4, 4] });
    data.push(history.map((p) => p.threshold ?? null));
  }
  new uPlot(
    {
      width,
      height: 180,
      cursor: { show: false },
      legend: { live: false },
      series,
      hooks: {
        draw: [
          (u) => {
            // A vertical red line where an alert of this monitor fired.
            const { ctx } = u;
            ctx.save();
            ctx.strokeStyle = ALERT;
            ctx.lineWidth = 2;
            for (const t of fired) {
              const x = u.valToPos(t, "x", true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    },
    data,
    el,
  );
  return el;
}

// ---------------------------------------------------------------- calls (GET /api/stats/calls)

const LATENCY = "#2f7d4f";
/** One colour per failure kind, in the order the kinds are drawn (most frequent first). */
export const KIND_COLOURS = ["#c23030", "#d9822b", "#7048a8", "#1f7a8c", "#8a6d00", "#b03a82", "#4a5d23", "#5b7db1"];

/** "≤ 5 ms", "≤ 2.5 s", "> 30 s": a histogram bucket as a person reads it. */
export function bucketLabel(bounds, i) {
  const show = (s) => (s < 1 ? `${Math.round(s * 1000)} ms` : `${s} s`);
  return i < bounds.length ? `≤ ${show(bounds[i])}` : `> ${show(bounds[bounds.length - 1])}`;
}

/** Numbers beside a chart, as text: for screen readers, for a person who wants the figure, and for tests. */
function numbers(name, rows) {
  return h("ul", { class: "chart-numbers", dataset: { numbers: name } }, rows.map(([label, value, data]) => h("li", { dataset: data }, `${label}: ${value}`)));
}

/** The latency distribution of calls: one bar per bucket of the Prometheus histogram. */
export function latencyChart(stats, width = 420) {
  const el = h("figure", { class: "chart-box", dataset: { chart: "latency" } });
  const { bucketsSeconds: bounds, counts } = stats.latency;
  const labels = counts.map((_, i) => bucketLabel(bounds, i));
  if (typeof uPlot !== "undefined" && stats.calls > 0) {
    const plot = h("div", { class: "chart" });
    const xs = counts.map((_, i) => i);
    new uPlot(
      {
        width,
        height: 200,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false, range: [-0.5, counts.length - 0.5] }, y: { range: (_, __, max) => [0, Math.max(1, max)] } },
        axes: [{ values: (_, ticks) => ticks.map((t) => labels[t]?.replace("≤ ", "") ?? ""), splits: () => xs.filter((i) => i % 2 === 0), rotate: -30 }, {}],
        series: [{ label: "latency" }, { label: "calls", fill: LATENCY, stroke: LATENCY, paths: uPlot.paths.bars({ size: [0.8] }), points: { show: false } }],
      },
      // An empty bucket draws nothing (a zero would be a line along the axis).
      [xs, counts.map((n) => n || null)],
      plot,
    );
    el.append(plot);
  } else el.append(typeof uPlot === "undefined" ? missing() : h("p", { class: "empty" }, "No calls in this window."));
  el.append(numbers("latency", counts.map((n, i) => [labels[i], n, { bucket: i < bounds.length ? String(bounds[i]) : "+Inf", count: String(n) }]).filter(([, n]) => n > 0)));
  return el;
}

/** Failure kinds over time: one line per kind, calls failed with it per time bucket. */
export function failureChart(stats, width = 420) {
  const el = h("figure", { class: "chart-box", dataset: { chart: "failures" } });
  const { times, kinds, bucketMs } = stats.failures;
  const order = Object.keys(kinds).sort((a, b) => sum(kinds[b]) - sum(kinds[a]) || a.localeCompare(b));
  if (typeof uPlot !== "undefined" && order.length > 0) {
    const plot = h("div", { class: "chart" });
    new uPlot(
      {
        width,
        height: 200,
        legend: { live: false },
        cursor: { show: false },
        scales: { y: { range: (_, __, max) => [0, Math.max(1, max)] } },
        series: [{}, ...order.map((k, i) => ({ label: k, stroke: KIND_COLOURS[i % KIND_COLOURS.length], width: 3, points: { show: true, size: 6, fill: KIND_COLOURS[i % KIND_COLOURS.length] } }))],
      },
      [times.map((t) => (t + bucketMs / 2) / 1000), ...order.map((k) => kinds[k])],
      plot,
    );
    el.append(plot);
  } else el.append(typeof uPlot === "undefined" ? missing() : h("p", { class: "empty" }, "No failures in this window."));
  el.append(numbers("failures", order.map((k, i) => [k, sum(kinds[k]), { kind: k, count: String(sum(kinds[k])), colour: KIND_COLOURS[i % KIND_COLOURS.length] }])));
  return el;
}

/** A run's confidence after each call, from 1 at its start. */
export function confidenceChart(points, width = 420) {
  const el = h("figure", { class: "chart-box", dataset: { chart: "confidence" } });
  if (typeof uPlot === "undefined") {
    el.append(missing());
    return el;
  }
  if (points.length < 2) return el;
  const plot = h("div", { class: "chart" });
  new uPlot(
    { width, height: 160, legend: { show: false }, cursor: { show: false }, scales: { y: { range: [0, 1] } }, series: [{}, { label: "confidence", stroke: BASELINE, width: 2, paths: uPlot.paths.stepped({ align: 1 }) }] },
    [points.map((p) => p.at / 1000), points.map((p) => p.confidence)],
    plot,
  );
  el.append(plot);
  return el;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
