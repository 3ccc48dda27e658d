/**
 * Exactly once, through the public API, on every store (memory, a SQLite file,
 * PostgreSQL): a repeated write is answered from its record only while the recorded effect
 * still stands (A, B, A); a write that may have landed is never run a second time, and is
 * retried only when that is safe; arguments bind to what the model sent; the same key with
 * other arguments is a conflict even in flight; an unsettled claim is never swept.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createRuntime, defineTool, ManualClock, ToolError } from "../src/index.js";
import type { Outcome } from "../src/index.js";
import { canonicalJson, digest } from "../src/canonical-json.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const { dir, prefix, up } = await scratchStores("exactly-once");

let n = 0;
const stores = [
  { name: "memory", spec: () => "memory" },
  { name: "SQLite", spec: () => `sqlite:${join(dir, `store-${n++}.db`)}` },
  { name: "PostgreSQL", spec: () => `${PG_URL}?schema=${prefix}_${n++}` },
] as const;

const failureOf = (o: Outcome<unknown>) => {
  if (o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o)}`);
  return o.failure;
};

describe.each(stores)("exactly once on $name", ({ name, spec }) => {
  const skip = name === "PostgreSQL" && !up;
  const runtime = (clock = new ManualClock()) => ({ rt: createRuntime({ store: spec(), clock, random: () => 0.5 }), clock });
  /** A tool that never answers, and a promise of its n-th start (the clock may advance only once its timer is armed). */
  function hanging() {
    const starts: (() => void)[] = [];
    let calls = 0;
    const started = (nth: number) => new Promise<void>((r) => (starts[nth] = r));
    const execute = () => {
      starts[++calls]?.();
      return new Promise<never>(() => {});
    };
    return { execute, started, calls: () => calls };
  }

  /** A ticket system: set_status writes the status; its probe reads it back. */
  function tickets(withProbe: boolean) {
    const status = new Map<string, string>();
    const keys: (string | undefined)[] = [];
    const setStatus = defineTool({
      name: "set_status",
      effect: "write",
      execute: async ({ ticket, to }: { ticket: string; to: string }, ctx) => {
        keys.push(ctx.idempotencyKey);
        status.set(ticket, to);
        return { ticket, status: to };
      },
      ...(withProbe ? { verify: async ({ ticket, to }: { ticket: string; to: string }) => status.get(ticket) === to } : {}),
    });
    return { status, keys, setStatus };
  }

  it.skipIf(skip)("A, B, A with a probe: the third call runs, because the probe no longer sees A; the world ends as asked", async () => {
    const { rt } = runtime();
    const { status, keys, setStatus } = tickets(true);
    const run = rt.startRun({ agent: "support" });
    expect(await run.call(setStatus, { ticket: "T-1", to: "closed" })).toMatchObject({ ok: true, replayed: false });
    expect(await run.call(setStatus, { ticket: "T-1", to: "open" })).toMatchObject({ ok: true, replayed: false });
    expect(await run.call(setStatus, { ticket: "T-1", to: "closed" })).toMatchObject({ ok: true, replayed: false });
    expect(status.get("T-1")).toBe("closed");
    expect(keys).toHaveLength(3);
    // The third execution is a new one: a system that deduplicates on the key must not fold it into the first.
    expect(keys[2]).toBe(`${keys[0]}#2`);
    // A, A: the probe still sees it, so the repeat is a replay.
    expect(await run.call(setStatus, { ticket: "T-1", to: "closed" })).toMatchObject({ ok: true, replayed: true });
    expect(keys).toHaveLength(3);
    await rt.close();
  });

  it.skipIf(skip)("a charge that still exists replays, whatever came between; one refunded since is charged anew", async () => {
    const { rt } = runtime();
    const charges = new Map<string, { invoice: string; refunded: boolean }>();
    let made = 0;
    const charge = defineTool({
      name: "charge",
      effect: "write",
      execute: async ({ invoice }: { invoice: string }) => {
        const id = `ch_${++made}`;
        charges.set(id, { invoice, refunded: false });
        return { id };
      },
      verify: async (_args, out: { id: string } | undefined) => out !== undefined && charges.get(out.id)?.refunded === false,
    });
    const run = rt.startRun({ agent: "billing" });
    const first = await run.call(charge, { invoice: "inv-1" });
    await run.call(charge, { invoice: "inv-2" });
    expect(await run.call(charge, { invoice: "inv-1" })).toMatchObject({ ok: true, replayed: true, value: first.ok && first.value });
    expect(made).toBe(2);
    charges.get("ch_1")!.refunded = true;
    expect(await run.call(charge, { invoice: "inv-1" })).toMatchObject({ ok: true, replayed: false, value: { id: "ch_3" } });
    await rt.close();
  });

  it.skipIf(skip)("without a probe: A, A replays; A, B, A runs A again (the default key); the tool's own key names one action and replays", async () => {
    const { rt } = runtime();
    const { status, keys, setStatus } = tickets(false);
    const run = rt.startRun({ agent: "support", policy: { maxUnverifiedDepth: 100 } });
    await run.call(setStatus, { ticket: "T-1", to: "closed" });
    expect(await run.call(setStatus, { ticket: "T-1", to: "closed" })).toMatchObject({ ok: true, replayed: true });
    await run.call(setStatus, { ticket: "T-1", to: "open" });
    expect(await run.call(setStatus, { ticket: "T-1", to: "closed" })).toMatchObject({ ok: true, replayed: false });
    expect(status.get("T-1")).toBe("closed");
    expect(keys).toHaveLength(3);
    // Other tools and other runs in between do not count: only this run's calls of this tool.
    const other = rt.startRun({ agent: "support" });
    await other.call(setStatus, { ticket: "T-1", to: "open" });
    const note = defineTool({ name: "note", effect: "write", execute: async () => "noted" });
    await run.call(note, { text: "x" });
    expect(await run.call(setStatus, { ticket: "T-1", to: "closed" })).toMatchObject({ ok: true, replayed: true });

    let paid = 0;
    const pay = defineTool({ name: "pay", effect: "write", idempotencyKey: (a: { invoice: string }) => a.invoice, execute: async () => ++paid });
    await run.call(pay, { invoice: "inv-1" });
    await run.call(pay, { invoice: "inv-2" });
    expect(await run.call(pay, { invoice: "inv-1" })).toMatchObject({ ok: true, replayed: true, value: 1 });
    expect(paid).toBe(2);
    await rt.close();
  });

  it.skipIf(skip)("a write that times out is not retried by default, and its repeat does not run it again", async () => {
    const { rt, clock } = runtime();
    const h = hanging();
    const slow = defineTool({ name: "slow_api", effect: "write", timeoutMs: 1_000, execute: h.execute });
    const run = rt.startRun({ agent: "a", policy: { maxConsecutiveFailures: 10 } });
    const started = h.started(1);
    const pending = run.call(slow, { order: 1 });
    await started;
    await clock.advance(1_000);
    const f = failureOf(await pending);
    expect(f).toMatchObject({ kind: "timeout", retryable: false });
    expect(f.message).toContain("may have taken effect");
    expect(h.calls()).toBe(1);
    expect(failureOf(await run.call(slow, { order: 1 }))).toMatchObject({ kind: "write_unverified" });
    expect(h.calls()).toBe(1);
    await rt.close();
  });

  it.skipIf(skip)("after an ambiguous attempt: retried when the tool is idempotent or its probe says it did not land; done when the probe saw it land", async () => {
    const rt = createRuntime({ store: spec() }); // real time: retries without backoff
    // Its system deduplicates on the key: retrying is safe.
    let dedupCalls = 0;
    const landed = new Set<string>();
    const deduped = defineTool({
      name: "deduped",
      effect: "write",
      idempotent: true,
      retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
      execute: async (_: { n: number }, ctx) => {
        dedupCalls++;
        landed.add(ctx.idempotencyKey!);
        if (dedupCalls === 1) throw new Error("socket hang up");
        return "ok";
      },
    });
    const run = rt.startRun({ agent: "a" });
    expect(await run.call(deduped, { n: 1 })).toMatchObject({ ok: true });
    expect(dedupCalls).toBe(2);
    expect(landed.size).toBe(1);

    // The probe decides: the first attempt did not land (retry), the second landed but its response was lost (done).
    const rows: string[] = [];
    let attempts = 0;
    const probed = defineTool({
      name: "probed",
      effect: "write",
      retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
      execute: async ({ row }: { row: string }) => {
        attempts++;
        if (attempts === 1) throw new Error("connection refused");
        rows.push(row);
        throw new Error("connection reset after the write");
      },
      verify: async ({ row }) => rows.includes(row),
    });
    expect(await run.call(probed, { row: "r1" })).toMatchObject({ ok: true, value: null, recovered: true });
    expect(attempts).toBe(2);
    expect(rows).toEqual(["r1"]);
    // The recovered effect is in the ledger, for rollback.
    expect((await rt.store.mutations.list(run.id)).map((m) => m.tool)).toContain("probed");
    expect(await run.call(probed, { row: "r1" })).toMatchObject({ ok: true, replayed: true });
    expect(attempts).toBe(2);
    await rt.close();
  });

  it.skipIf(skip)("keys, fingerprints and approvals bind to the arguments as sent, not to what a schema parsed them into", async () => {
    const { rt } = runtime();
    const sent: string[] = [];
    const webhook = defineTool({
      name: "webhook",
      effect: "write",
      input: z.object({ url: z.string().transform((u) => new URL(u)) }),
      execute: async ({ url }) => {
        sent.push(url.host);
        return url.host;
      },
    });
    const run = rt.startRun({ agent: "a" });
    expect(await run.call(webhook, { url: "https://a.example/hook" } as never)).toMatchObject({ ok: true, value: "a.example" });
    expect(await run.call(webhook, { url: "https://b.example/hook" } as never)).toMatchObject({ ok: true, value: "b.example", replayed: false });
    expect(sent).toEqual(["a.example", "b.example"]);

    // An approval for one host does not let a call to another through.
    const guarded = defineTool({ ...webhook.spec, name: "guarded_webhook", approval: "always" });
    const ask = await run.call(guarded, { url: "https://a.example/hook" } as never);
    const [request] = await rt.approvals.list({ status: "pending" });
    await rt.approvals.approve(request!.id, { by: "ada" });
    expect(failureOf(ask).kind).toBe("approval_required");
    expect(failureOf(await run.call(guarded, { url: "https://evil.example/hook" } as never)).kind).toBe("approval_required");
    expect(await run.call(guarded, { url: "https://a.example/hook" } as never)).toMatchObject({ ok: true, value: "a.example" });

    // A class instance sent as an argument cannot be bound faithfully: refused, not hashed.
    const raw = defineTool({ name: "raw", effect: "write", execute: async () => "ran" });
    const refused = failureOf(await run.call(raw, { to: new URL("https://c.example/") }));
    expect(refused.kind).toBe("invalid_input");
    expect(refused.message).toContain("to is an instance of URL");
    await rt.close();
  });

  it.skipIf(skip)("the same custom key with other arguments, concurrently in one process: idempotency_conflict, never the first's value", async () => {
    const { rt } = runtime();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pay = defineTool({
      name: "pay",
      effect: "write",
      idempotencyKey: () => "order-7",
      execute: async ({ cents }: { cents: number }) => {
        await gate;
        return { cents };
      },
    });
    const run = rt.startRun({ agent: "a" });
    const first = run.call(pay, { cents: 100 });
    const second = run.call(pay, { cents: 999_999 });
    const same = run.call(pay, { cents: 100 });
    await new Promise((r) => setTimeout(r, 20));
    release();
    expect(await first).toMatchObject({ ok: true, value: { cents: 100 } });
    expect(failureOf(await second).kind).toBe("idempotency_conflict");
    expect(await same).toMatchObject({ ok: true, replayed: true, value: { cents: 100 } });
    await rt.close();
  });

  it.skipIf(skip)("a call waiting on another process's claim honours its run's deadline", async () => {
    const rt = createRuntime({ store: spec() });
    await rt.ready();
    const fingerprint = digest(canonicalJson({}));
    // Another process holds the key, alive, for a minute.
    await rt.store.idempotency.claim({ scope: "held", key: "k", fingerprint, owner: "elsewhere", runId: "r0", now: Date.now(), leaseMs: 60_000, retentionMs: 60_000 });
    let ran = 0;
    const held = defineTool({ name: "held", effect: "write", idempotencyKey: () => "k", execute: async () => ++ran });
    const started = Date.now();
    const o = await rt.startRun({ agent: "a", policy: { deadlineMs: 300 } }).call(held, {});
    expect(failureOf(o).kind).toBe("deadline_exceeded");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ran).toBe(0);
    await rt.close();
  });

  it.skipIf(skip)("a call waiting on another process's claim stops waiting when its run is stopped, and when its runtime closes", async () => {
    const rt = createRuntime({ store: spec() });
    await rt.ready();
    const fingerprint = digest(canonicalJson({}));
    // Another process holds both keys, alive, for a minute.
    for (const key of ["k1", "k2"]) await rt.store.idempotency.claim({ scope: "held", key, fingerprint, owner: "elsewhere", runId: "r0", now: Date.now(), leaseMs: 60_000, retentionMs: 60_000 });
    let ran = 0;
    const held = (key: string) => defineTool({ name: "held", effect: "write", idempotencyKey: () => key, execute: async () => ++ran });
    const run = rt.startRun({ agent: "a" });
    const stopped = run.call(held("k1"), {});
    await new Promise((r) => setTimeout(r, 100)); // waiting
    let t0 = Date.now();
    await run.stop("wrong customer");
    expect(failureOf(await stopped).kind).toBe("run_halted");
    expect(Date.now() - t0).toBeLessThan(500);

    const closed = rt.startRun({ agent: "b" }).call(held("k2"), {});
    await new Promise((r) => setTimeout(r, 100));
    t0 = Date.now();
    await rt.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(failureOf(await closed).kind).toBe("runtime_closed");
    expect(ran).toBe(0);
  });

  it.skipIf(skip)("close cuts short a hung write: its signal aborts, it ends as runtime_closed, and its claim stays unsettled, so the repeat does not run it", async () => {
    const at = spec();
    const rt = createRuntime({ store: at });
    let runs = 0;
    let signal: AbortSignal | undefined;
    let started!: () => void;
    const starting = new Promise<void>((r) => (started = r));
    const charge = defineTool({
      name: "charge",
      effect: "write",
      idempotencyKey: (a: { invoice: string }) => a.invoice,
      execute: (_: { invoice: string }, ctx) => {
        runs++;
        signal = ctx.signal;
        started();
        return new Promise<never>(() => {}); // the request went out; no answer yet
      },
    });
    const call = rt.startRun({ agent: "a", runId: "r-close" }).call(charge, { invoice: "in-1" });
    await starting;
    const t0 = Date.now();
    await rt.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(signal?.aborted).toBe(true);
    expect(failureOf(await call).kind).toBe("runtime_closed");
    if (name === "memory") return; // the record went with the process
    const again = createRuntime({ store: at });
    const repeat = await again.startRun({ agent: "a", runId: "r-close" }).call(charge, { invoice: "in-1" });
    expect(failureOf(repeat).kind).toBe("write_unverified");
    expect(runs).toBe(1);
    await again.close();
  });

  it.skipIf(skip)("an unsettled claim is never swept: long past the retention period, its repeat still does not run", async () => {
    const clock = new ManualClock();
    const rt = createRuntime({ store: spec(), clock, idempotency: { retentionMs: 1_000 } });
    const h = hanging();
    const blind = defineTool({ name: "blind", effect: "write", timeoutMs: 100, idempotencyKey: () => "k", execute: h.execute });
    const started = h.started(1);
    const pending = rt.startRun({ agent: "a" }).call(blind, {});
    await started;
    await clock.advance(100);
    expect(failureOf(await pending).kind).toBe("timeout");
    await clock.advance(10 * 24 * 3600_000);
    expect(await rt.store.idempotency.sweep(clock.now())).toBe(0);
    expect(failureOf(await rt.startRun({ agent: "a" }).call(blind, {})).kind).toBe("write_unverified");
    expect(h.calls()).toBe(1);
    await rt.close();
  });
});

describe.each(stores)("an effect recovered after a crash, on $name", ({ name, spec }) => {
  it.skipIf(name === "PostgreSQL" && !up)("enters the mutation ledger, so rollback undoes it", async () => {
    const clock = new ManualClock();
    const rt = createRuntime({ store: spec(), clock });
    await rt.ready();
    const rows = new Set<string>();
    const insert = defineTool({
      name: "insert_row",
      effect: "write",
      idempotencyKey: (a: { row: string }) => a.row,
      execute: async ({ row }: { row: string }) => void rows.add(row),
      verify: async ({ row }) => rows.has(row),
      compensate: async ({ row }) => void rows.delete(row),
    });
    const run = rt.startRun({ agent: "a" });
    // A process of this run claimed "r1", wrote the row, and died before recording anything.
    const fingerprint = digest(canonicalJson({ row: "r1" }));
    await rt.store.idempotency.claim({ scope: "insert_row", key: "r1", fingerprint, owner: "dead-call", runId: run.id, now: clock.now() - 120_000, leaseMs: 1_000, retentionMs: 3600_000 });
    rows.add("r1");
    expect(await run.call(insert, { row: "r1" })).toMatchObject({ ok: true, replayed: true, recovered: true });
    expect((await rt.store.mutations.list(run.id)).map((m) => m.id)).toEqual(["dead-call"]);
    const report = await run.rollback();
    expect(report).toMatchObject({ complete: true });
    expect(report.undone).toHaveLength(1);
    expect(rows.has("r1")).toBe(false);
    await rt.close();
  });
});
