// Charts of the drift monitors, drawn with uPlot (served by `bulwark serve` from the
// package at /vendor/uplot.js; nothing from the network). For a decision monitor: its
// baseline and its latest window side by side, per category, and its drift statistic
// over time with the moments its alerts fired. Each chart is a canvas; its numbers are
// also written as text beside it, for screen readers and for tests.

/* global uPlot */

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
