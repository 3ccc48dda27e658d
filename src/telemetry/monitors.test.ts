import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRuntime, defineTool, ManualClock, ToolError } from "bulwark";
import { seeded } from "../chaos/random.js";
import { storeMetrics } from "../server/store-metrics.js";

const decisions = { baseline: 100, window: 50, checkEvery: 10, alpha: 1e-3 };
const pick = (r: () => number, mix: [string, number][]) => {
  let u = r();
  for (const [k, p] of mix) if ((u -= p) < 0) return k;
  return mix[mix.length - 1]![0];
};
const before: [string, number][] = [["approve", 0.55], ["deny", 0.35], ["escalate", 0.1]];
const after: [string, number][] = [["approve", 0.9], ["deny", 0.08], ["escalate", 0.02]];

describe("monitors in the runtime", () => {
  it("two processes feed one decision monitor through the store; a restart keeps its baseline; a shift raises one drift alert", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "bulwark-monitors-")), "s.db");
    const open = () => createRuntime({ store: `sqlite:${path}`, monitors: { decisions, flushMs: 60_000 } });
    const r = seeded(7);
    let [a, b] = [open(), open()];
    for (let i = 0; i < 100; i++) {
      const rt = i % 2 ? a : b;
      rt.startRun({ agent: "refunds", runId: `r${i}` }).observe("decision", pick(r, before));
      if (i % 10 === 9) await Promise.all([a.monitors!.flush(), b.monitors!.flush()]);
    }
    await Promise.all([a.close(), b.close()]);
    // Restarted: the baseline made by both is still there.
    [a, b] = [open(), open()];
    const [m] = await a.monitors!.list();
    expect(m).toMatchObject({ kind: "decision", subject: "refunds", name: "decision", state: { baselineN: 100, observed: 100, drifting: false } });
    for (let i = 0; i < 60; i++) (i % 2 ? a : b).startRun({ agent: "refunds" }).observe("decision", pick(r, before));
    await Promise.all([a.monitors!.flush(), b.monitors!.flush()]);
    expect(await a.alerts.list()).toEqual([]);
    for (let i = 0; i < 80; i++) {
      (i % 2 ? a : b).startRun({ agent: "refunds" }).observe("decision", pick(r, after));
      if (i % 10 === 9) await Promise.all([a.monitors!.flush(), b.monitors!.flush()]);
    }
    await Promise.all([a.alerts.flush(), b.alerts.flush()]);
    const alerts = await a.alerts.list();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: "drift", key: "drift:decision:refunds:decision", agent: "refunds", state: "firing", severity: "warning" });
    expect(alerts[0]!.summary).toMatch(/^refunds: decision drifted: the latest 50 observations \(approve \d+%/);
    expect(alerts[0]!.details).toMatchObject({ pValue: expect.any(Number), psi: expect.any(Number) });
    const [after2] = await b.monitors!.list();
    expect(after2!.state).toMatchObject({ observed: 240, drifting: true });
    await Promise.all([a.close(), b.close()]);
  });

  it("watches each agent's tool choices and outcomes; a spike of one failure kind is an alert", async () => {
    const clock = new ManualClock();
    const registry = new Registry();
    const rt = createRuntime({ clock, telemetry: { metrics: registry }, policy: { maxConsecutiveFailures: 1000 }, monitors: { decisions, flushMs: 60_000, spikes: { minCount: 5 } } });
    let failing = false;
    const pay = defineTool({ name: "pay", effect: "read", retry: false, breaker: false, execute: async () => { if (failing) throw new ToolError("card network 503"); return { ok: true }; } });
    const run = rt.startRun({ agent: "billing" });
    // Quiet minutes: one failure a minute.
    for (let m = 0; m < 5; m++) {
      failing = true;
      await run.call(pay, {});
      failing = false;
      await run.call(pay, {});
      await clock.advance(60_000);
    }
    await rt.monitors!.flush();
    expect(await rt.alerts.list()).toEqual([]);
    failing = true;
    for (let i = 0; i < 8; i++) await run.call(pay, {});
    await rt.monitors!.flush();
    await rt.alerts.flush();
    const spikes = (await rt.alerts.list()).filter((x) => x.kind === "failure_spike");
    expect(spikes).toMatchObject([{ key: "drift:spike:tool_error:per minute", state: "firing" }]);
    expect(spikes[0]!.summary).toMatch(/^tool_error failures spiked: \d+ in a minute, against about 1\.0 before/);
    const views = await rt.monitors!.list();
    expect(views.map((v) => v.key).sort()).toEqual(["decision:billing:outcome", "decision:billing:tool", "spike:tool_error:per minute", "text:billing:output of pay"]);
    expect(views.find((v) => v.name === "outcome")!.state).toMatchObject({ baseline: { ok: 5, tool_error: 13 } });
    // A quiet minute after: resolved.
    await clock.advance(60_000);
    await run.call(pay, {});
    await rt.monitors!.flush();
    await rt.alerts.flush();
    expect((await rt.alerts.list()).find((x) => x.kind === "failure_spike")!.state).toBe("resolved");
    const text = await storeMetrics(rt).metrics();
    expect(text).toMatch(/bulwark_drift_statistic\{kind="spike",subject="tool_error",monitor="per minute",statistic="count"\} 1/);
    expect(text).toMatch(/bulwark_drift_statistic\{kind="decision",subject="billing",monitor="outcome",statistic="drifting"\} 0/);
    await rt.close();
  });

  it("the texts of a tool's outputs drifting (new vocabulary) is an alert; the same kind of text is not", async () => {
    const rt = createRuntime({ policy: { maxSteps: 10_000 }, monitors: { texts: { block: 20, baselineBlocks: 6 }, flushMs: 60_000 } });
    const r = seeded(3);
    const cities = ["Paris", "Lyon", "Nice", "Lille", "Nantes", "Brest"];
    let reply = (i: number) => `Order ${1000 + i} shipped to ${cities[Math.floor(r() * cities.length)]} on day ${Math.floor(r() * 28) + 1}, ${Math.floor(r() * 5) + 1} parcels.`;
    const lookup = defineTool({ name: "lookup", effect: "read", execute: async (a: { i: number }) => ({ status: reply(a.i) }) });
    const run = rt.startRun({ agent: "support" });
    for (let i = 0; i < 200; i++) await run.call(lookup, { i });
    await rt.monitors!.flush();
    await rt.alerts.flush();
    expect(await rt.alerts.list()).toEqual([]);
    const [view] = (await rt.monitors!.list()).filter((v) => v.kind === "text");
    expect(view!.state).toMatchObject({ threshold: expect.any(Number), last: { divergence: expect.any(Number) }, drifting: false });
    // The upstream API changes: errors in another shape.
    reply = (i) => `ERROR upstream timeout: request ${i} rejected by gateway (code E${Math.floor(r() * 900) + 100}); retry later`;
    for (let i = 0; i < 40; i++) await run.call(lookup, { i });
    await rt.monitors!.flush();
    await rt.alerts.flush();
    const [alert] = await rt.alerts.list();
    expect(alert).toMatchObject({ kind: "drift", key: "drift:text:support:output of lookup", agent: "support" });
    expect(alert!.summary).toMatch(/^support: the texts of output of lookup drifted \(Jensen-Shannon 0\.\d+ against a calibrated threshold of 0\.\d+\)/);
    await rt.close();
  });

  it("verifyDecision's verdicts and texts are watched; run.observe refuses bad input; monitors: false turns them off", async () => {
    const rt = createRuntime({ monitors: { flushMs: 60_000 } });
    const run = rt.startRun({ agent: "faq" });
    await run.verifyDecision({ text: "Bereavement fares can be claimed within 90 days." });
    expect(() => run.observe("", "x")).toThrow(/name must be a text/);
    expect(() => run.observe("intent", null as unknown as string)).toThrow(/value must be a string, number or boolean, not null/);
    run.observe("intent", 3);
    await rt.monitors!.flush();
    expect((await rt.monitors!.list()).map((v) => v.key).sort()).toEqual(["decision:faq:intent", "decision:faq:verdict", "text:faq:decision texts"]);
    await rt.close();
    const off = createRuntime({ monitors: false });
    expect(off.monitors).toBeUndefined();
    off.startRun({ agent: "x" }).observe("intent", "a");
    await off.close();
    expect(() => createRuntime({ monitors: { decisions: { window: 0 } } })).toThrow(/window must be a whole number/);
    expect(() => createRuntime({ monitors: { texts: { margin: 0.5 } } })).toThrow(/margin must be at least 1/);
  });
});
