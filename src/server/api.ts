/**
 * The JSON API of `bulwark serve`: runs (live, with their budgets, and their timelines),
 * charts of calls, approvals, breakers, handoffs, freezes, alerts, shadow decisions, stop,
 * review and rollback, on the public
 * runtime API only. Each route is a function from the request to a JSON value; a bad
 * request is an `HttpError` with its status (400 bad input, 404 unknown id, 409 a
 * decision the other way), never a stack trace.
 */
import { ApprovalError, PolicyError, readInstant, redactValue, summarizeRun, summarizeShadow, type ApprovalRequest, type MutationRecord, type RunRecord, type Runtime, type Tool } from "../index.js";
import { inForce } from "./store-metrics.js";
import { runTimeline } from "./run-timeline.js";
import { callStats } from "./call-stats.js";
import type { Principal } from "./auth.js";

export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface ApiRequest {
  method: string;
  /** Path parameters, in route order. */
  params: string[];
  query: URLSearchParams;
  /** The parsed JSON body (an object), or {} when there is none. */
  body: Record<string, unknown>;
  /** The token's holder, when the server has tokens (auth.ts). */
  who?: Principal;
}

export interface ApiContext {
  rt: Runtime;
  /** The agent's tools, by name (from `--tools`): rollback runs their compensations. */
  tools: ReadonlyMap<string, Tool>;
  now: () => number;
  /** Whether requests carry tokens (then a decision is recorded as the token's name). */
  auth: boolean;
}

type Handler = (req: ApiRequest, ctx: ApiContext) => Promise<unknown>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
  /** 201 for creations; 200 otherwise. */
  status?: number;
}

const ID = "([^/]+)";
const route = (method: string, path: string, handler: Handler, status?: number): Route => ({
  method,
  pattern: new RegExp(`^${path.replaceAll(":id", ID)}$`),
  handler,
  ...(status !== undefined ? { status } : {}),
});

const APPROVAL_STATUSES = ["pending", "approved", "denied"] as const;
const RUN_STATUSES = ["running", "ended"] as const;
const HANDOFF_STATUSES = ["open", "closed"] as const;
const ALERT_STATES = ["firing", "acknowledged", "resolved"] as const;

const routes: Route[] = [
  route("GET", "/api/session", async ({ who }, { auth }) => ({ auth, ...(who ? { name: who.name, role: who.role } : {}) })),
  route("GET", "/api/runs", listRuns),
  route("GET", "/api/runs/:id", getRun),
  route("GET", "/api/stats/calls", statsOfCalls),
  route("POST", "/api/runs/:id/stop", stopRun),
  route("POST", "/api/runs/:id/review", reviewRun),
  route("POST", "/api/runs/:id/rollback", rollbackRun),
  route("GET", "/api/approvals", listApprovals),
  route("GET", "/api/approvals/:id", getApproval),
  route("POST", "/api/approvals/:id/approve", (req, ctx) => decide(req, ctx, "approve")),
  route("POST", "/api/approvals/:id/deny", (req, ctx) => decide(req, ctx, "deny")),
  route("GET", "/api/breakers", async (_req, { rt }) => ({ breakers: await rt.store.breakers.list() })),
  route("GET", "/api/handoffs", listHandoffs),
  route("GET", "/api/alerts", listAlerts),
  route("POST", "/api/alerts/:id/ack", ackAlert),
  route("GET", "/api/shadow", listShadow),
  route("GET", "/api/monitors", async (_req, { rt }) => ({ monitors: (await rt.monitors?.list()) ?? [] })),
  route("GET", "/api/freezes", listFreezes),
  route("POST", "/api/freezes", declareFreeze, 201),
  route("DELETE", "/api/freezes", liftAllFreezes),
  route("DELETE", "/api/freezes/:id", liftFreeze),
];

/** The route for a method and path: the handler, or a 404 / 405. */
export function match(method: string, path: string): { route: Route; params: string[] } {
  const allowed: string[] = [];
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    if (r.method === method) return { route: r, params: m.slice(1).map(decodeParam) };
    allowed.push(r.method);
  }
  if (allowed.length > 0) throw Object.assign(new HttpError(405, `${method} is not allowed on ${path}; use ${allowed.join(" or ")}`), { allow: allowed.join(", ") });
  throw new HttpError(404, `no such endpoint: ${method} ${path}`);
}

function decodeParam(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new HttpError(400, `bad escape in the path: ${p}`);
  }
}

/**
 * What of a record may be shown: arguments are stored redacted, but a record written by
 * an older version, a tool's output (kept as returned: replays and compensations need it)
 * and a handoff's context are redacted again on the way out.
 */
function shown(r: { args?: unknown; output?: unknown; context?: unknown }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ["args", "output", "context"] as const) if (r[k] !== undefined) out[k] = redactValue(r[k]);
  return out;
}

// ---------------------------------------------------------------- runs

/**
 * A run as the API lists it (`RunSummary`): live from the store. The budget's `max` is
 * this server's policy (its runtime's): the record does not keep the run's own.
 */
const summary = (r: RunRecord, { rt, now }: ApiContext) => summarizeRun(r, { now: now(), maxPerRun: rt.policy.destructive.maxPerRun });

async function listRuns({ query }: ApiRequest, ctx: ApiContext) {
  const status = oneOf(query, "status", RUN_STATUSES);
  const limit = positiveInt(query, "limit", 100, 1000);
  const runs = await ctx.rt.store.runs.list({ ...(status ? { status } : {}), limit });
  return { runs: runs.map((r) => summary(r, ctx)) };
}

/**
 * A run the store knows: its record, and the changes recorded under its id (which outlive
 * a purged record); undefined for an id the store has never seen, so that a mistyped id
 * does not read as "nothing to undo". Shared with `bulwark rollback`.
 */
export async function findRun(rt: Runtime, runId: string): Promise<{ run: RunRecord | undefined; mutations: MutationRecord[] } | undefined> {
  const run = await rt.store.runs.get(runId);
  const mutations = await rt.store.mutations.list(runId);
  return run || mutations.length > 0 ? { run, mutations } : undefined;
}

const unknownRun = (runId: string | undefined) => new HttpError(404, `no run ${JSON.stringify(runId)} in the store`);

/**
 * A run: its summary, its stored record (facts, history, gates), its timeline (every call,
 * a page of `?calls=` [1000] after `?after=`), its changes, approvals and handoffs.
 */
async function getRun({ params: [runId], query }: ApiRequest, ctx: ApiContext) {
  const { rt, tools } = ctx;
  const after = wholeNumber(query, "after");
  const limit = positiveInt(query, "calls", 1000, 10_000);
  const found = await findRun(rt, runId!);
  if (!found) throw unknownRun(runId);
  const { run, mutations } = found;
  const [approvals, handoffs, timeline] = await Promise.all([
    rt.approvals.list({ runId: runId! }),
    rt.store.handoffs.list({ runId: runId! }),
    runTimeline(rt, runId!, run, { ...(after !== undefined ? { after } : {}), limit }),
  ]);
  return {
    timeline,
    summary: run ? summary(run, ctx) : null,
    run: run ?? null,
    mutations: mutations.sort((a, b) => a.seq - b.seq).map((m) => ({ ...m, ...shown(m), undo: undoability(m, tools) })),
    approvals: approvals.map((a) => ({ ...a, ...shown(a) })),
    handoffs: handoffs.map((h) => ({ ...h, ...shown(h) })),
  };
}

/**
 * Whether rollback could undo a mutation from this server: "ready" (its tool, with a
 * compensate, was loaded with --tools), "needs_tools" (compensable, but this server does
 * not have the tool), "none" (the tool declared no compensation), or "-" (already past).
 */
function undoability(m: MutationRecord, tools: ReadonlyMap<string, Tool>): "ready" | "needs_tools" | "none" | "-" {
  if (m.status !== "done") return "-";
  if (!m.compensable) return "none";
  return tools.get(m.tool)?.spec.compensate ? "ready" : "needs_tools";
}

async function stopRun({ params: [runId], body, who }: ApiRequest, { rt }: ApiContext) {
  const reason = who ? `${text(body, "reason", true)} (by ${who.name})` : text(body, "reason", true);
  if (!(await rt.stopRun(runId!, reason))) throw unknownRun(runId);
  return { runId, stopRequested: true, reason };
}

/**
 * A person reviewed the run's changes: recorded with who (the token's holder, else the
 * body's `by`) and an optional `note`; the destructive budget is renewed.
 */
async function reviewRun(req: ApiRequest, ctx: ApiContext) {
  const { params: [runId], body } = req;
  const by = decider(req, true)!;
  const note = text(body, "note", false);
  if (!(await ctx.rt.store.runs.get(runId!))) throw unknownRun(runId);
  const after = await ctx.rt.reviewRun(runId!, { by, ...(note !== undefined ? { note } : {}) });
  return { run: summary(after, ctx) };
}

async function rollbackRun({ params: [runId], body }: ApiRequest, { rt, tools }: ApiContext) {
  // How long to wait for the run's calls in flight (the report lists those that outlive it).
  const waitMs = body.waitMs;
  if (waitMs !== undefined && !(Number.isInteger(waitMs) && (waitMs as number) >= 0 && (waitMs as number) <= 600_000))
    throw new HttpError(400, "waitMs must be a whole number of milliseconds from 0 to 600000");
  // A mistyped id must not read as "nothing to undo", nor leave a stop request behind.
  if (!(await findRun(rt, runId!))) throw unknownRun(runId);
  const report = await rt.rollback(runId!, [...tools.values()], waitMs === undefined ? {} : { waitMs: waitMs as number });
  return {
    ...report,
    ...(tools.size === 0 && report.notUndone.length > 0
      ? { hint: "this server was started without --tools: compensations are functions on the agent's tools; restart it with `bulwark serve --tools <module>` to undo these steps" }
      : {}),
  };
}

/** Calls counted at most, newest first, for one chart request. */
const STATS_CALLS = 50_000;

/**
 * Charts of every run's calls started in [`since`, `until`) [the last hour]: the latency
 * distribution (the Prometheus histogram's buckets) and failure kinds per time bucket
 * (`buckets` of them [30]), from the store's call journal.
 */
async function statsOfCalls({ query }: ApiRequest, { rt, now }: ApiContext) {
  const until = instant(query, "until") ?? now();
  const since = instant(query, "since") ?? until - 3_600_000;
  if (since >= until) throw new HttpError(400, `?since must be before ?until (got ${new Date(since).toISOString()} and ${new Date(until).toISOString()})`);
  const timeBuckets = positiveInt(query, "buckets", 30, 500);
  const journal = rt.store.callJournal;
  if (!journal) throw new HttpError(501, `this store (${rt.store.kind}) keeps no call journal: charts of calls need one (memory, SQLite and PostgreSQL keep it)`);
  const calls = await journal.recent({ since, until, limit: STATS_CALLS });
  return callStats(calls, { since, until, timeBuckets, truncated: calls.length === STATS_CALLS });
}

// ---------------------------------------------------------------- approvals

async function listApprovals({ query }: ApiRequest, { rt }: ApiContext) {
  const status = oneOf(query, "status", APPROVAL_STATUSES);
  const runId = query.get("run") ?? undefined;
  const approvals = await rt.approvals.list({ ...(status ? { status } : {}), ...(runId ? { runId } : {}) });
  return { approvals: approvals.map((a) => ({ ...a, ...shown(a) })) };
}

async function getApproval({ params: [id] }: ApiRequest, { rt }: ApiContext) {
  const a = await rt.approvals.get(id!);
  if (!a) throw new HttpError(404, `no approval request ${JSON.stringify(id)}`);
  return { approval: { ...a, ...shown(a) } };
}

/** Who decides: the token's holder (a name in the body is not asked for, nor believed), or the body's `by`. */
function decider({ who, body }: ApiRequest, required: boolean): string | undefined {
  return who ? who.name : required ? text(body, "by", true) : text(body, "by", false);
}

async function decide(req: ApiRequest, { rt }: ApiContext, verb: "approve" | "deny") {
  const { params: [id], body } = req;
  const by = decider(req, true)!;
  const reason = verb === "deny" ? text(body, "reason", true) : undefined;
  if (!(await rt.approvals.get(id!))) throw new HttpError(404, `no approval request ${JSON.stringify(id)}`);
  let approval: ApprovalRequest;
  try {
    approval = verb === "approve" ? await rt.approvals.approve(id!, { by }) : await rt.approvals.deny(id!, { by, reason: reason! });
  } catch (e) {
    // The request exists and the input is checked: what is left is a decision the other way.
    if (e instanceof ApprovalError) throw new HttpError(409, e.message);
    throw e;
  }
  return { approval };
}

// ---------------------------------------------------------------- handoffs, freezes

async function listHandoffs({ query }: ApiRequest, { rt }: ApiContext) {
  const status = oneOf(query, "status", HANDOFF_STATUSES);
  const runId = query.get("run") ?? undefined;
  const handoffs = await rt.store.handoffs.list({ ...(status ? { status } : {}), ...(runId ? { runId } : {}) });
  return { handoffs: handoffs.sort((a, b) => b.at - a.at).map((h) => ({ ...h, ...shown(h) })) };
}

/** Shadow mode's decisions, newest first, and their sums per tool and kind. */
async function listShadow({ query }: ApiRequest, { rt }: ApiContext) {
  const since = instant(query, "since");
  const runId = query.get("run") || undefined;
  const limit = positiveInt(query, "limit", 100, 1000);
  const all = await rt.store.shadow.list({ ...(since !== undefined ? { since } : {}), ...(runId ? { runId } : {}) });
  const decisions = all.slice(0, limit).map((d) => ({ ...d, ...shown(d) }));
  return { total: all.length, decisions, sums: summarizeShadow(decisions) };
}

async function listFreezes(_req: ApiRequest, { rt, now }: ApiContext) {
  const t = now();
  const freezes = (await rt.freezes()).map((f) => ({ ...f, inForce: inForce(f, t) }));
  return { frozen: freezes.some((f) => f.inForce), freezes };
}

async function declareFreeze(req: ApiRequest, { rt, now }: ApiContext) {
  const { body } = req;
  const reason = text(body, "reason", true);
  const by = decider(req, false);
  const from = time(body, "from");
  const to = time(body, "to");
  try {
    const f = await rt.freeze(reason, { ...(by !== undefined ? { by } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
    return { freeze: { ...f, inForce: inForce(f, now()) } };
  } catch (e) {
    if (e instanceof PolicyError || e instanceof TypeError) throw new HttpError(400, e.message);
    throw e;
  }
}

async function liftFreeze({ params: [id] }: ApiRequest, { rt }: ApiContext) {
  const lifted = await rt.unfreeze(id!);
  if (lifted === 0) throw new HttpError(404, `no freeze ${JSON.stringify(id)}`);
  return { lifted };
}

async function liftAllFreezes({ query }: ApiRequest, { rt }: ApiContext) {
  // Lifting every freeze is never the result of a forgotten id.
  if (query.get("all") !== "true") throw new HttpError(400, "name the freeze to lift (DELETE /api/freezes/<id>), or lift them all with ?all=true");
  return { lifted: await rt.unfreeze() };
}

// ---------------------------------------------------------------- alerts

async function listAlerts({ query }: ApiRequest, { rt }: ApiContext) {
  const state = oneOf(query, "state", ALERT_STATES);
  const limit = positiveInt(query, "limit", 200, 1000);
  return { alerts: await rt.alerts.list({ ...(state ? { state } : {}), limit }), sinks: rt.alerts.sinks() };
}

async function ackAlert(req: ApiRequest, { rt }: ApiContext) {
  const id = req.params[0];
  const by = decider(req, true)!;
  const alert = await rt.alerts.acknowledge(id!, by);
  if (!alert) throw new HttpError(404, `no alert ${JSON.stringify(id)}`);
  return { alert };
}

// ---------------------------------------------------------------- input

function text(body: Record<string, unknown>, field: string, required: true): string;
function text(body: Record<string, unknown>, field: string, required: false): string | undefined;
function text(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === "") {
    if (required) throw new HttpError(400, `the body needs "${field}": a non-empty text`);
    return undefined;
  }
  if (typeof v !== "string" || v.trim().length === 0) throw new HttpError(400, `"${field}" must be a non-empty text, not ${JSON.stringify(v)}`);
  if (v.length > 2000) throw new HttpError(400, `"${field}" is too long (${v.length} characters; at most 2000)`);
  return v.trim();
}

function time(body: Record<string, unknown>, field: string): number | string | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "number" && typeof v !== "string") throw new HttpError(400, `"${field}" must be a time: epoch milliseconds or ISO 8601 text with a zone, not ${JSON.stringify(v)}`);
  const r = readInstant(v);
  if ("problem" in r) throw new HttpError(400, `"${field}": ${r.problem}`);
  return r.ms;
}

function oneOf<T extends string>(query: URLSearchParams, name: string, values: readonly T[]): T | undefined {
  const v = query.get(name);
  if (v === null || v === "") return undefined;
  if (!(values as readonly string[]).includes(v)) throw new HttpError(400, `?${name} must be one of ${values.join(", ")}, not ${JSON.stringify(v)}`);
  return v as T;
}

function instant(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === "") return undefined;
  const r = readInstant(/^\d+$/.test(v) ? Number(v) : v);
  if ("problem" in r) throw new HttpError(400, `?${name}: ${r.problem}`);
  return r.ms;
}

function wholeNumber(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, `?${name} must be a whole number (a seq from the previous page's "next"), not ${JSON.stringify(v)}`);
  return n;
}

function positiveInt(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const v = query.get(name);
  if (v === null || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HttpError(400, `?${name} must be a whole number from 1 to ${max}, not ${JSON.stringify(v)}`);
  return n;
}
