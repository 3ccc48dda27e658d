// A run's timeline on its page (GET /api/runs/:id's `timeline`): every call of the run
// from the store's call journal, the confidence over time, the decisions checked and the
// facts in play.

import { confidenceChart } from "./charts.js";
import { badge, empty, h, json, table, when } from "./dom.js";

/** A failure kind's badge: asked to wait or for a person (warn), refused or failed (bad). */
const WAITS = new Set(["approval_required", "verification_required"]);
function outcomeBadge(c) {
  if (c.ok) return h("span", { class: `badge ${c.replayed ? "b-info" : "b-ok"}` }, c.replayed ? "replayed" : "ok");
  const kind = c.failure?.kind ?? c.kind ?? "failed";
  return h("span", { class: `badge ${WAITS.has(kind) ? "b-warn" : "b-bad"}` }, kind.replaceAll("_", " "));
}

const ms = (n) => (n === undefined ? "" : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`);

/**
 * Every call of the run, from the store's call journal: when, which tool, the outcome, the
 * stage that refused it and why, latency, attempts, the confidence after it; and the
 * confidence over time. A store without a journal gives the last calls only (said so).
 * `more`: later pages already loaded ({ calls, next }); `loadMore(button, after)` loads the next.
 */
export function renderTimeline(id, t, more, loadMore) {
  const calls = [...t.calls, ...(more?.calls ?? [])];
  const next = more ? more.next : t.next;
  const frag = document.createDocumentFragment();
  frag.append(h("h3", {}, `Timeline (${calls.length}${next !== undefined ? "+" : ""} calls)`));
  if (!t.journal) frag.append(h("p", { class: "hint" }, "This store keeps no call journal: these are the last calls the run's record keeps."));
  if (calls.length === 0) {
    frag.append(empty("No calls yet."));
    return frag;
  }
  if (t.confidence.length > 1) frag.append(confidenceChart(t.confidence));
  frag.append(h("div", { class: "timeline" }, table(["Time", "Tool", "Outcome", "Refused by", "Why", "Latency", "Attempts", "Confidence"],
    calls.map((c) => h("tr", { dataset: { callId: c.callId, outcome: c.ok ? (c.replayed ? "replayed" : "ok") : (c.failure?.kind ?? c.kind ?? "failed") } },
      h("td", { class: "num" }, h("time", { datetime: new Date(c.at).toISOString(), title: new Date(c.at).toLocaleString() }, new Date(c.at).toLocaleTimeString())),
      h("td", {}, h("strong", {}, c.tool), c.toolCallId ? h("div", { class: "muted mono", title: "the model's tool call id" }, c.toolCallId) : null),
      h("td", {}, outcomeBadge(c)),
      h("td", {}, c.failure?.stage ?? ""),
      h("td", { class: "why" }, c.failure?.message ?? ""),
      h("td", { class: "num" }, ms(c.latencyMs)),
      h("td", { class: "num" }, c.attempts === undefined ? "" : String(c.attempts)),
      h("td", { class: "num" }, c.confidence === undefined ? "" : c.confidence.toFixed(2)))),
    `Every call of run ${id}`)));
  if (next !== undefined) frag.append(h("p", {}, h("button", { type: "button", onclick: (e) => loadMore(e.currentTarget, next) }, "Load more calls")));
  if (t.decisions.length > 0)
    frag.append(h("h3", {}, `Decisions checked (last ${t.decisions.length})`), table(["When", "Verdict", "Decision", "Why"],
      t.decisions.map((x) => h("tr", {}, h("td", {}, when(x.at)), h("td", {}, badge(x.verdict)), h("td", {}, x.text), h("td", {}, x.reasons.join("; "))))));
  if (t.facts && (t.facts.current.length > 0 || t.facts.contested.length > 0))
    frag.append(h("h3", {}, `Facts in play (${t.facts.current.length}${t.facts.contested.length ? `, ${t.facts.contested.length} contested` : ""})`), table(["Fact", "Value", "Source"],
      [...t.facts.current.map((f) => h("tr", {}, h("td", {}, f.key), h("td", {}, json(f.value)), h("td", {}, f.source))),
       ...t.facts.contested.map((f) => h("tr", {}, h("td", {}, f.key, " ", badge("contested")), h("td", {}, f.contenders.map((c) => json(c.value))), h("td", {}, f.contenders.map((c) => c.source).join(", "))))]));
  return frag;
}
