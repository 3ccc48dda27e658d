// The Bulwark dashboard: reads the JSON API of `bulwark serve` and renders it; every
// action is one API call. No framework, no build step, nothing from the network but this
// server. Text from agents (tool arguments, reasons) is only ever set as text, never HTML.

import { distributionChart, failureChart, latencyChart, statisticChart } from "./charts.js";
import { badge, empty, h, json, shortId, table, when } from "./dom.js";
import { renderTimeline } from "./timeline.js";

const REFRESH_MS = 3000;
const $ = (id) => document.getElementById(id);

const state = {
  selectedRun: null,
  /** Section -> the JSON it was last drawn from: unchanged data is not redrawn. */
  drawn: new Map(),
  /** Denial reasons being typed, by approval id: a refresh must not wipe them. */
  denyReasons: new Map(),
  timer: null,
  /** GET /api/session: { auth, name?, role? }. */
  session: null,
  /** Later pages of the selected run's timeline ("Load more"): { runId, calls, next }. */
  moreCalls: null,
};

/** The window of the calls charts: the last hour, in 30 buckets of 2 minutes. */
const STATS_WINDOW_MS = 3_600_000;

// The server's token, when it has tokens: asked for once, kept for this tab (not in
// localStorage: it is a credential, and it should not outlive the session).
const TOKEN_KEY = "bulwark.token";

// ---------------------------------------------------------------- API

async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: { accept: "application/json" } };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  const message = data?.error?.message ?? `${method} ${path}: HTTP ${res.status}`;
  if (res.status === 401) askForToken(token ? "That token is not valid here (or no longer is)." : "This server needs an access token.");
  if (!res.ok) throw Object.assign(new Error(message), { status: res.status });
  return data;
}

function askForToken(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  $("signin-why").textContent = why;
  $("signin").hidden = false;
  document.querySelector("main").hidden = true;
  $("token").focus();
}

function showSession(session) {
  state.session = session;
  $("actor-label").hidden = session.auth;
  $("session").hidden = !session.auth;
  if (session.auth) $("session").replaceChildren(`Signed in as ${session.name} (${session.role === "decide" ? "may decide" : "read only"}) `,
    h("button", { type: "button", onclick: () => askForToken("Signed out.") }, "Sign out"));
}

function notify(text, kind = "ok") {
  const n = $("notice");
  n.textContent = text;
  n.className = `notice ${kind}`;
}

function actor() {
  // With tokens, the server records the token's holder.
  if (state.session?.auth) return state.session.name;
  const input = $("actor");
  const name = input.value.trim();
  if (!name) {
    notify("Enter your name under “Acting as” first: every decision records who made it.", "error");
    input.focus();
    return null;
  }
  localStorage.setItem("bulwark.actor", name);
  return name;
}

/** Run an action, report its result, refresh. */
async function act(button, work, success) {
  if (button) button.disabled = true;
  try {
    const result = await work();
    notify(typeof success === "function" ? success(result) : success, "ok");
  } catch (e) {
    notify(e.message, "error");
  } finally {
    if (button) button.disabled = false;
    await refresh();
  }
}

/** Redraw a section only when its data changed. */
function draw(section, data, render) {
  const key = JSON.stringify(data);
  if (state.drawn.get(section) === key) return;
  state.drawn.set(section, key);
  $(section).replaceChildren(render(data));
}

// ---------------------------------------------------------------- approvals

function renderApprovals(approvals) {
  const pending = approvals.filter((a) => a.status === "pending");
  const decided = approvals.filter((a) => a.status !== "pending").sort((a, b) => (b.decidedAt ?? 0) - (a.decidedAt ?? 0)).slice(0, 20);
  $("approvals-count").textContent = `(${pending.length} pending)`;
  const rows = [...pending, ...decided].map((a) => {
    const label = `${a.tool} for run ${shortId(a.runId)}`;
    let actions = "";
    if (a.status === "pending") {
      const reasonId = `deny-reason-${a.id}`;
      const reason = h("input", {
        id: reasonId, class: "deny-reason", placeholder: "reason to deny", "aria-label": `Reason to deny ${label}`,
        oninput: (e) => state.denyReasons.set(a.id, e.target.value),
      });
      reason.value = state.denyReasons.get(a.id) ?? "";
      actions = h("td", { class: "actions" },
        h("button", {
          type: "button", class: "primary", "aria-label": `Approve ${label}`,
          onclick: (e) => {
            const by = actor();
            if (by) act(e.currentTarget, () => api(`/api/approvals/${encodeURIComponent(a.id)}/approve`, { method: "POST", body: { by } }), `Approved ${a.tool} (run ${shortId(a.runId)}).`);
          },
        }, "Approve"),
        reason,
        h("button", {
          type: "button", class: "danger", "aria-label": `Deny ${label}`,
          onclick: (e) => {
            const by = actor();
            if (!by) return;
            const why = reason.value.trim();
            if (!why) { notify("Say why you deny it: the reason is told to the agent.", "error"); reason.focus(); return; }
            act(e.currentTarget, () => api(`/api/approvals/${encodeURIComponent(a.id)}/deny`, { method: "POST", body: { by, reason: why } }), `Denied ${a.tool} (run ${shortId(a.runId)}).`)
              .then(() => state.denyReasons.delete(a.id));
          },
        }, "Deny"));
    } else {
      actions = h("td", {}, `${a.status} by ${a.by ?? "?"}`, a.reason ? h("div", { class: "muted" }, a.reason) : null, h("div", { class: "muted" }, when(a.decidedAt)));
    }
    return h("tr", { dataset: { approvalId: a.id, status: a.status } },
      h("td", {}, badge(a.status)),
      h("td", {}, h("strong", {}, a.tool)),
      h("td", {}, json(a.args)),
      h("td", {}, h("button", { type: "button", class: "link mono", onclick: () => selectRun(a.runId), "aria-label": `Show run ${a.runId}` }, shortId(a.runId))),
      h("td", {}, when(a.requestedAt)),
      actions);
  });
  if (rows.length === 0) return empty("No approval requests.");
  return table(["Status", "Tool", "Arguments", "Run", "Requested", "Decision"], rows);
}

// ---------------------------------------------------------------- runs

function renderRuns(runs) {
  $("runs-count").textContent = `(${runs.length} most recent)`;
  if (runs.length === 0) return empty("No runs in this store yet.");
  return table(
    ["Run", "Agent", "Status", "Mode", "Reason", "Steps", "Destructive", "Confidence", "Started", "Last change", "Review"],
    runs.map((r) =>
      h("tr", { class: r.runId === state.selectedRun ? "selected" : "", dataset: { runId: r.runId, mode: r.mode } },
        h("td", {}, h("button", { type: "button", class: "link mono", onclick: () => selectRun(r.runId), "aria-label": `Show run ${r.runId}` }, shortId(r.runId))),
        h("td", {}, r.agent),
        h("td", {}, badge(r.status), r.stopRequested ? h("div", { class: "muted" }, `stop asked: ${r.stopRequested.reason}`) : null),
        h("td", {}, badge(r.mode)),
        h("td", {}, r.reason ?? ""),
        h("td", { class: "num" }, String(r.steps)),
        h("td", { class: "num", dataset: { destructive: "" } }, budget(r.destructive)),
        h("td", { class: "num" }, r.confidence.toFixed(2)),
        h("td", {}, when(r.startedAt)),
        h("td", {}, when(r.updatedAt)),
        h("td", { class: "actions" }, reviewCell(r)))),
  );
}

/** Destructive actions since the last review, of the most the server's policy allows; those in flight below. */
function budget(d) {
  const used = d.max === undefined ? String(d.used) : `${d.used} / ${d.max}`;
  return d.inFlight > 0 ? [used, " ", h("span", { class: "muted" }, `(+${d.inFlight} in flight)`)] : used;
}

/**
 * A person's review of the changes a run made renews its destructive budget: offered on a
 * run reading only because it spent the budget, or one that made destructive changes since
 * its last review.
 */
function reviewCell(r) {
  const last = r.lastReview ? h("div", { class: "muted" }, `last by ${r.lastReview.by} `, when(r.lastReview.at)) : null;
  if (!r.awaitsReview) return last ?? "";
  const button = h("button", {
    type: "button", class: r.narrowedBy === "budget" ? "primary" : "", "aria-label": `Review run ${r.runId}`,
    onclick: (e) => {
      const by = actor();
      if (!by) return;
      const allowed = r.destructive.max === undefined ? "its budget" : `up to ${r.destructive.max} destructive actions`;
      if (!confirm(`Record that ${by} reviewed the changes run ${r.runId} made (${r.destructive.used} destructive)? Its destructive budget is renewed: it may make ${allowed} again before the next review.`)) return;
      act(e.currentTarget, () => api(`/api/runs/${encodeURIComponent(r.runId)}/review`, { method: "POST", body: { by } }), ({ run }) =>
        `Reviewed run ${shortId(r.runId)}: its destructive budget is renewed` + (run.mode === "normal" ? "." : `; it is still ${run.mode.replace("_", " ")} (${run.reason ?? "no reason given"}).`));
    },
  }, "Review");
  return [button, last];
}

/** A run's page has a URL (#run=<id>), to share or come back to. */
function runFromUrl() {
  const m = /^#run=(.+)$/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

function selectRun(runId) {
  const hash = runId ? `#run=${encodeURIComponent(runId)}` : "";
  if (location.hash !== hash) history.pushState(null, "", hash || location.pathname);
  state.selectedRun = runId;
  state.drawn.delete("runs");
  state.drawn.delete("run-detail");
  refresh().then(() => $("run-detail").scrollIntoView({ behavior: "smooth", block: "nearest" }));
}

function renderRunDetail(d) {
  const r = d.run;
  const id = state.selectedRun;
  const frag = document.createDocumentFragment();
  frag.append(
    h("h3", {}, "Run ", h("span", { class: "mono" }, id), " ", r ? badge(r.mode) : null, " ",
      h("a", { href: `#run=${encodeURIComponent(id)}`, class: "permalink", title: "link to this run" }, "link"), " ",
      h("button", { type: "button", onclick: () => { selectRun(null); state.drawn.clear(); } }, "Close")),
  );
  if (r?.reason) frag.append(h("p", {}, h("strong", {}, "Reason: "), r.reason));
  const s = d.summary;
  if (s) frag.append(h("p", { class: "run-summary" },
    `Steps ${s.steps} · destructive `, budget(s.destructive), ` · confidence ${s.confidence.toFixed(2)} · failures in a row ${s.failuresInARow}`,
    s.lastReview ? [` · last reviewed by ${s.lastReview.by}${s.lastReview.note ? ` (${s.lastReview.note})` : ""} `, when(s.lastReview.at)] : ""));
  if (r && r.status === "running" && r.mode !== "halted") {
    const reason = h("input", { id: "stop-reason", required: true, placeholder: "why" });
    frag.append(h("form", {
      class: "inline-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(e.submitter, () => api(`/api/runs/${encodeURIComponent(id)}/stop`, { method: "POST", body: { reason: reason.value.trim() } }), `Asked run ${shortId(id)} to stop.`);
      },
    }, h("label", { for: "stop-reason" }, "Reason to stop", reason), h("button", { type: "submit", class: "danger" }, "Stop run")));
  }
  const more = state.moreCalls?.runId === id ? state.moreCalls : null;
  frag.append(renderTimeline(id, d.timeline, more, (button, after) => act(button, async () => {
    const page = await api(`/api/runs/${encodeURIComponent(id)}?after=${after}`);
    state.moreCalls = { runId: id, calls: [...(more?.calls ?? []), ...page.timeline.calls], next: page.timeline.next };
    state.drawn.delete("run-detail");
  }, "More calls loaded.")));
  const ms = d.mutations;
  frag.append(h("h3", {}, `Recorded changes (${ms.length})`));
  if (ms.length === 0) frag.append(empty("This run recorded no changes."));
  else {
    const undo = { ready: "can be undone", needs_tools: "needs the agent's tools (serve --tools)", none: "no compensation: by hand", "-": "" };
    frag.append(table(["#", "Tool", "Effect", "Arguments", "Status", "Undo", "Checkpoint"],
      ms.map((m) => h("tr", {},
        h("td", {}, String(m.seq)), h("td", {}, m.tool), h("td", {}, m.effect), h("td", {}, json(m.args)),
        h("td", {}, badge(m.status), m.error ? h("div", { class: "muted" }, m.error) : null),
        h("td", {}, undo[m.undo] ?? m.undo), h("td", {}, m.checkpoint === undefined ? "" : json(m.checkpoint))))));
    if (ms.some((m) => m.status === "done"))
      frag.append(h("p", {}, h("button", {
        type: "button", class: "danger",
        onclick: (e) => {
          if (!confirm(`Roll back run ${id}? Its changes are undone newest first, and the run is halted.`)) return;
          act(e.currentTarget, () => api(`/api/runs/${encodeURIComponent(id)}/rollback`, { method: "POST", body: {} }), (rep) => rep.summary + (rep.hint ? ` — ${rep.hint}` : ""));
        },
      }, "Roll back this run")));
  }
  return frag;
}

// ---------------------------------------------------------------- calls across runs

function renderCalls(stats) {
  const failed = Object.values(stats.failures.kinds).flat().reduce((a, b) => a + b, 0);
  $("calls-count").textContent = `(${stats.calls}${stats.truncated ? "+" : ""} in the last hour, ${failed} failed)`;
  return h("div", { class: "charts" },
    h("div", {}, h("h3", {}, "Latency"), latencyChart(stats)),
    h("div", {}, h("h3", {}, "Failure kinds over time"), failureChart(stats)));
}

// ---------------------------------------------------------------- alerts and monitors

function renderAlerts({ alerts, sinks }) {
  const open = alerts.filter((a) => a.state !== "resolved");
  $("alerts-count").textContent = `(${alerts.filter((a) => a.state === "firing").length} firing)`;
  const failing = sinks.filter((s) => s.failed > 0);
  const frag = document.createDocumentFragment();
  if (failing.length > 0) frag.append(h("p", { class: "notice error" }, `Alert delivery failing: ${failing.map((s) => `${s.sink} (${s.failed} failed; last: ${s.lastError ?? "?"})`).join("; ")}`));
  if (alerts.length === 0) {
    frag.append(empty("No alerts."));
    return frag;
  }
  frag.append(table(["State", "Severity", "Kind", "What", "Run", "Last", "Action"],
    [...open, ...alerts.filter((a) => a.state === "resolved").slice(0, 20)].map((a) => h("tr", { dataset: { alertId: a.id, state: a.state } },
      h("td", {}, badge(a.state)), h("td", {}, badge(a.severity)), h("td", {}, a.kind.replace("_", " ")),
      h("td", {}, a.summary, a.count > 1 ? h("span", { class: "muted" }, ` ×${a.count}`) : null),
      h("td", {}, a.runId ? h("button", { type: "button", class: "link mono", onclick: () => selectRun(a.runId), "aria-label": `Show run ${a.runId}` }, shortId(a.runId)) : ""),
      h("td", {}, when(a.lastAt)),
      h("td", { class: "actions" }, a.state === "firing"
        ? h("button", {
            type: "button", "aria-label": `Acknowledge: ${a.summary}`,
            onclick: (e) => {
              const by = actor();
              if (by) act(e.currentTarget, () => api(`/api/alerts/${encodeURIComponent(a.id)}/ack`, { method: "POST", body: { by } }), `Acknowledged: ${a.summary}`);
            },
          }, "Acknowledge")
        : a.acknowledgedBy ? `by ${a.acknowledgedBy}` : "")))));
  return frag;
}

function renderMonitors({ monitors, alerts }) {
  $("monitors-count").textContent = `(${monitors.filter((m) => m.state.drifting).length} drifting of ${monitors.length})`;
  if (monitors.length === 0) return empty("No monitor has data yet: they fill as agents make calls and decisions.");
  const order = { decision: 0, text: 1, spike: 2 };
  return h("div", { class: "monitors" },
    [...monitors].sort((a, b) => Number(b.state.drifting) - Number(a.state.drifting) || order[a.kind] - order[b.kind] || a.key.localeCompare(b.key)).map((m) => {
      const mine = alerts.filter((a) => a.key === `drift:${m.key}`);
      const last = m.state.last;
      const figure = m.kind === "decision"
        ? last ? `PSI ${last.psi.toFixed(2)}, chi-square ${last.chiSquare.toFixed(1)}, p ${last.pValue.toExponential(1)}` : `baseline ${m.state.baselineN} of its first decisions; window filling`
        : m.kind === "text"
          ? last ? `Jensen-Shannon ${last.divergence.toFixed(3)} (threshold ${last.threshold.toFixed(3)})` : "baseline filling"
          : last ? `${last.count} this minute (threshold ${last.threshold.toFixed(0)})` : "";
      return h("figure", { class: "monitor", dataset: { monitor: m.key, drifting: String(m.state.drifting) } },
        h("figcaption", {}, h("strong", {}, m.subject), ` ${m.name} `, m.state.drifting ? badge("drifting") : badge("steady"), h("div", { class: "muted" }, figure)),
        m.kind === "decision" ? distributionChart(m) : null,
        statisticChart(m, mine));
    }));
}

// ---------------------------------------------------------------- breakers, handoffs, freezes

function renderBreakers(breakers) {
  const open = breakers.filter((b) => b.state !== "closed").length;
  $("breakers-count").textContent = `(${open} not closed)`;
  if (breakers.length === 0) return empty("No breaker has tripped: every tool is closed.");
  const order = { open: 0, half_open: 1, closed: 2 };
  return table(["Tool", "State", "Since", "Reason"],
    [...breakers].sort((a, b) => order[a.state] - order[b.state] || a.tool.localeCompare(b.tool)).map((b) =>
      h("tr", {}, h("td", {}, h("strong", {}, b.tool)), h("td", {}, badge(b.state)), h("td", {}, when(b.openedAt ?? b.updatedAt)), h("td", {}, b.reason ?? ""))));
}

function renderHandoffs(handoffs) {
  $("handoffs-count").textContent = `(${handoffs.filter((x) => x.status === "open").length} open)`;
  if (handoffs.length === 0) return empty("No handoffs.");
  return table(["Status", "Agent", "Run", "Reason", "When"],
    handoffs.slice(0, 50).map((x) => h("tr", {},
      h("td", {}, badge(x.status)), h("td", {}, x.agent),
      h("td", {}, h("button", { type: "button", class: "link mono", onclick: () => selectRun(x.runId), "aria-label": `Show run ${x.runId}` }, shortId(x.runId))),
      h("td", {}, x.reason), h("td", {}, when(x.at)))));
}

function renderFreezes({ frozen, freezes }) {
  const banner = $("freeze-banner");
  const holding = freezes.filter((f) => f.inForce);
  banner.hidden = !frozen;
  banner.textContent = frozen ? `Frozen: write and destructive calls are refused (${holding.map((f) => f.reason ?? "no reason given").join("; ")}).` : "";
  if (freezes.length === 0) return empty("No freeze declared: changes are allowed.");
  return table(["State", "Reason", "By", "Since", "Until", "Action"],
    freezes.map((f) => h("tr", { dataset: { freezeId: f.id } },
      h("td", {}, h("span", { class: `badge ${f.inForce ? "b-bad" : "b-plain"}` }, f.inForce ? "in force" : f.to !== undefined && f.to <= Date.now() ? "ended" : "scheduled")),
      h("td", {}, f.reason ?? ""), h("td", {}, f.by ?? ""),
      h("td", {}, f.from !== undefined ? when(f.from) : when(f.at)),
      h("td", {}, f.to !== undefined ? new Date(f.to).toLocaleString() : "until lifted"),
      h("td", { class: "actions" }, h("button", {
        type: "button", "aria-label": `Lift freeze: ${f.reason ?? f.id}`,
        onclick: (e) => act(e.currentTarget, () => api(`/api/freezes/${encodeURIComponent(f.id)}`, { method: "DELETE" }), "Freeze lifted."),
      }, "Lift")))));
}

function renderShadow({ total, sums }) {
  $("shadow-count").textContent = `(${total} would-be refusals)`;
  if (total === 0) return empty("No shadow decisions: no run in shadow mode would have been refused.");
  return table(["Tool", "Kind", "Stage", "Calls", "Runs", "Latest example"],
    sums.map((s) => h("tr", {},
      h("td", {}, h("strong", {}, s.tool)), h("td", {}, badge(s.kind)), h("td", {}, s.stages.join(", ")),
      h("td", {}, String(s.calls)), h("td", {}, String(s.runs)),
      h("td", {}, s.examples[0] ? `${when(s.examples[0].at)}: ${s.examples[0].message}` : ""))));
}

// ---------------------------------------------------------------- refresh

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const until = Date.now();
      const [session, approvals, runs, breakers, handoffs, freezes, shadow, alerts, monitors, calls, detail] = await Promise.all([
        api("/api/session"), api("/api/approvals"), api("/api/runs?limit=50"), api("/api/breakers"), api("/api/handoffs"), api("/api/freezes"), api("/api/shadow"), api("/api/alerts"), api("/api/monitors"),
        // A store without a call journal answers 501: the section says so.
        api(`/api/stats/calls?since=${until - STATS_WINDOW_MS}&until=${until}`).catch((e) => ({ unavailable: e.message })),
        state.selectedRun ? api(`/api/runs/${encodeURIComponent(state.selectedRun)}`).catch(() => null) : null,
      ]);
      showSession(session);
      // Do not redraw the queue under someone typing a denial reason.
      if (!document.activeElement?.classList.contains("deny-reason")) draw("approvals", approvals.approvals, renderApprovals);
      draw("runs", runs.runs, renderRuns);
      draw("breakers", breakers.breakers, renderBreakers);
      draw("handoffs", handoffs.handoffs, renderHandoffs);
      draw("alerts", alerts, renderAlerts);
      draw("monitors", { monitors: monitors.monitors, alerts: alerts.alerts }, renderMonitors);
      draw("freezes", freezes, renderFreezes);
      draw("shadow", shadow, renderShadow);
      // Keyed without the window's ends, which move every refresh: redrawn when a number changes.
      if (calls.unavailable) draw("calls", calls, () => empty(calls.unavailable));
      else draw("calls", { latency: calls.latency, kinds: calls.failures.kinds, total: calls.failures.total }, () => renderCalls(calls));
      const panel = $("run-detail");
      panel.hidden = !detail;
      if (detail && !panel.contains(document.activeElement)) draw("run-detail", { id: state.selectedRun, detail }, () => renderRunDetail(detail));
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (e.status !== 401) notify(`Cannot reach the server: ${e.message}`, "error");
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function schedule() {
  clearInterval(state.timer);
  state.timer = $("autorefresh").checked ? setInterval(refresh, REFRESH_MS) : null;
}

$("actor").value = localStorage.getItem("bulwark.actor") ?? "";
$("actor").addEventListener("change", (e) => localStorage.setItem("bulwark.actor", e.target.value.trim()));
$("controls").addEventListener("submit", (e) => e.preventDefault());
$("refresh").addEventListener("click", () => refresh());
$("autorefresh").addEventListener("change", schedule);
$("freeze-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const by = actor();
  if (!by) return;
  const reason = $("freeze-reason").value.trim();
  const until = $("freeze-until").value;
  const body = { reason, by, ...(until ? { to: new Date(until).toISOString() } : {}) };
  act(e.submitter, () => api("/api/freezes", { method: "POST", body }), `Freeze declared: ${reason}. Writes are refused until it is lifted.`).then(() => {
    $("freeze-reason").value = "";
    $("freeze-until").value = "";
  });
});

$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  $("signin").hidden = true;
  document.querySelector("main").hidden = false;
  notify("");
  schedule();
  refresh();
});

// A run's URL opens its page; back and forward move between runs.
window.addEventListener("popstate", () => {
  state.selectedRun = runFromUrl();
  state.drawn.clear();
  refresh();
});
state.selectedRun = runFromUrl();
schedule();
refresh();
