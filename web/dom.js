// Small DOM helpers of the dashboard's pages (app.js, timeline.js): elements built from
// data, text only ever set as text, never HTML.


export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function table(columns, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows),
  );
}

export const empty = (text) => h("p", { class: "empty" }, text);

const TONES = {
  normal: "ok", read_only: "warn", handed_off: "info", halted: "bad",
  running: "info", ended: "plain",
  closed: "ok", half_open: "warn", open: "bad",
  pending: "warn", approved: "ok", denied: "bad",
  firing: "bad", acknowledged: "warn", resolved: "ok", critical: "bad", warning: "warn",
  done: "plain", compensating: "warn", compensated: "ok", compensation_failed: "bad",
};
export const badge = (value) => h("span", { class: `badge b-${TONES[value] ?? "plain"}` }, String(value).replace("_", " "));

export function when(ms) {
  if (ms === undefined || ms === null) return "";
  const d = new Date(ms);
  const s = Math.round((Date.now() - ms) / 1000);
  const rel = s < 0 ? "in the future" : s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : d.toLocaleDateString();
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, rel);
}

export const json = (v) => h("code", { class: "args" }, v === undefined ? "" : JSON.stringify(v));
export const shortId = (id) => (id.length > 18 ? `${id.slice(0, 8)}…` : id);
