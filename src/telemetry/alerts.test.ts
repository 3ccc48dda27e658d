import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logs, type LogRecord } from "@opentelemetry/api-logs";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createRuntime, defineTool, ManualClock } from "bulwark";
import { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature, webhookSink } from "./alert-sinks.js";
import type { AlertNotice } from "./alerts.js";

const SECRET = "a-secret-of-some-length";

/** A real HTTP receiver; `answer` picks each response's status (or hangs with 0). */
async function receiver(answer: (n: number) => number = () => 200) {
  const got: { body: string; signature: string; notice: AlertNotice }[] = [];
  let n = 0;
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const k = ++n; // counted on arrival: a sender that gives up mid-body still made an attempt
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const status = answer(k);
    if (status === 0) return; // hang
    if (status === 200) got.push({ body, signature: String(req.headers[SIGNATURE_HEADER]), notice: JSON.parse(body) });
    res.writeHead(status).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  servers.push(server);
  return { url, got, attempts: () => n };
}
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const failing = (name = "payments") =>
  defineTool({ name, effect: "read", retry: false, breaker: { windowSize: 2, minCalls: 2, failureRate: 1, halfOpenAfterMs: 1_000 }, execute: async () => { throw new Error("503"); } });

describe("alerts", () => {
  it("a breaker opening is one alert in the store, sent signed to the webhook once; its closing resolves it", async () => {
    const hook = await receiver();
    const clock = new ManualClock();
    let healthy = false;
    const payments = defineTool({ name: "payments", effect: "read", retry: false, breaker: { windowSize: 2, minCalls: 2, failureRate: 1, halfOpenAfterMs: 1_000 }, execute: async () => { if (!healthy) throw new Error("503"); return "ok"; } });
    const rt = createRuntime({ clock, alerts: { webhook: { url: hook.url, secret: SECRET } }, policy: { maxConsecutiveFailures: 100 } });
    const run = rt.startRun({ agent: "billing" });
    for (let i = 0; i < 4; i++) await run.call(payments, {});
    await rt.alerts.flush();
    const [alert] = await rt.alerts.list();
    expect(alert).toMatchObject({ kind: "breaker_open", key: "breaker_open:payments", state: "firing", severity: "critical", tool: "payments", count: 1 });
    expect(alert!.summary).toMatch(/^payments is cut off by its breaker: 2 of the last 2 calls failed; last error: 503/);
    expect(hook.got).toHaveLength(1);
    const [{ body, signature, notice }] = hook.got as [(typeof hook.got)[0]];
    expect(notice).toEqual({ event: "firing", alert });
    expect(verifyWebhookSignature(SECRET, signature, body, clock.now() / 1000)).toBe(true);
    expect(verifyWebhookSignature(SECRET, signature, body.replace("payments", "paymentz"), clock.now() / 1000)).toBe(false);
    expect(verifyWebhookSignature("another-secret-entirely", signature, body, clock.now() / 1000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, signature, body, clock.now() / 1000 + 3600)).toBe(false); // replayed an hour later

    healthy = true;
    await clock.advance(1_000); // half-open: the probe succeeds and closes it
    expect((await run.call(payments, {})).ok).toBe(true);
    await rt.alerts.flush();
    expect(await rt.alerts.list()).toMatchObject([{ id: alert!.id, state: "resolved", resolvedAt: clock.now() }]);
    expect(hook.got.map((g) => g.notice.event)).toEqual(["firing", "resolved"]);
    await rt.close();
  });

  it("two processes on one store whose breakers both open: one alert, one notice", async () => {
    const hook = await receiver();
    const path = join(mkdtempSync(join(tmpdir(), "bulwark-alerts-")), "s.db");
    const a = createRuntime({ store: `sqlite:${path}`, alerts: { webhook: { url: hook.url, secret: SECRET } }, breakerSyncMs: 60_000 });
    const b = createRuntime({ store: `sqlite:${path}`, alerts: { webhook: { url: hook.url, secret: SECRET } }, breakerSyncMs: 60_000 });
    await Promise.all([a.ready(), b.ready()]);
    const [ra, rb] = [a.startRun({ agent: "x" }), b.startRun({ agent: "x" })];
    await Promise.all([ra.call(failing(), {}), rb.call(failing(), {})]);
    await Promise.all([ra.call(failing(), {}), rb.call(failing(), {})]);
    await Promise.all([a.alerts.flush(), b.alerts.flush()]);
    const all = await a.alerts.list();
    expect(all.filter((x) => x.kind === "breaker_open")).toMatchObject([{ count: 2, state: "firing" }]);
    expect(hook.got.filter((g) => g.notice.alert.kind === "breaker_open")).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it("halted and handed-off runs are alerts; a person acknowledges one, recorded with who", async () => {
    const lines: string[] = [];
    const rt = createRuntime({ alerts: { log: (l) => lines.push(l) } });
    const halted = rt.startRun({ agent: "ops", runId: "run-h" });
    const broken = defineTool({ name: "deploy", effect: "read", retry: false, breaker: false, execute: async () => { throw new Error("boom"); } });
    await halted.call(broken, {});
    await halted.call(broken, {});
    const handed = rt.startRun({ agent: "support", runId: "run-p" });
    await handed.handOff("the customer asked for a person");
    await rt.alerts.flush();
    const list = await rt.alerts.list();
    expect(list.map((a) => [a.kind, a.runId, a.severity])).toEqual([
      ["run_handed_off", "run-p", "warning"],
      ["run_halted", "run-h", "critical"],
    ]);
    expect(list[1]!.summary).toMatch(/^run run-h \(ops\) was halted: /);
    const acked = await rt.alerts.acknowledge(list[1]!.id, "dana");
    expect(acked).toMatchObject({ state: "acknowledged", acknowledgedBy: "dana" });
    await expect(rt.alerts.acknowledge(list[1]!.id, "")).rejects.toThrow(/say who/);
    expect(await rt.alerts.acknowledge("nope", "dana")).toBeUndefined();
    await rt.alerts.flush();
    expect(lines).toEqual([
      expect.stringMatching(/^bulwark alert firing \[critical\] run_halted: run run-h \(ops\) was halted/),
      expect.stringMatching(/^bulwark alert firing \[warning\] run_handed_off: run run-p/),
      expect.stringMatching(/^bulwark alert acknowledged by dana \[critical\] run_halted/),
    ]);
    await rt.close();
  });

  it("retries a failing webhook with backoff; one that keeps failing is visible (status, onError, metric) and never blocks a call", async () => {
    const flaky = await receiver((n) => (n < 3 ? 503 : 200));
    const down = await receiver(() => 500);
    const errors: unknown[] = [];
    const registry = new Registry();
    const rt = createRuntime({
      onError: (e) => errors.push(e),
      policy: { maxConsecutiveFailures: 100 },
      telemetry: { metrics: registry },
      alerts: { webhook: [{ url: flaky.url, secret: SECRET, baseDelayMs: 5, maxDelayMs: 10 }, { url: down.url, secret: SECRET, baseDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 }] },
    });
    const run = rt.startRun({ agent: "a" });
    await run.call(failing(), {});
    await run.call(failing(), {});
    await rt.alerts.flush();
    expect(flaky.attempts()).toBe(3);
    expect(flaky.got).toHaveLength(1);
    expect(down.attempts()).toBe(3);
    const status = rt.alerts.sinks();
    expect(status.find((s) => s.sink.includes(new URL(flaky.url).origin) && s.delivered === 1)).toBeDefined();
    expect(status.find((s) => s.failed === 1)).toMatchObject({ lastError: expect.stringMatching(/answered 500/) });
    expect(errors.map(String)).toContainEqual(expect.stringMatching(/could not deliver alert .* \(breaker_open\): .* answered 500/));
    const text = await registry.metrics();
    expect(text).toMatch(/bulwark_alert_notifications_total\{sink="webhook [^"]+",result="failed"\} 1/);
    await rt.close();
  });

  it("a webhook that hangs does not hold up calls; close cuts its retries short and says so", async () => {
    const hung = await receiver(() => 0);
    const errors: unknown[] = [];
    const rt = createRuntime({ onError: (e) => errors.push(e), policy: { maxConsecutiveFailures: 100 }, alerts: { webhook: { url: hung.url, secret: SECRET, timeoutMs: 50, baseDelayMs: 60_000, maxDelayMs: 60_000 } } });
    const run = rt.startRun({ agent: "a" });
    await run.call(failing(), {});
    await run.call(failing(), {});
    const ok = defineTool({ name: "ok", effect: "read", execute: async () => 1 });
    expect((await run.call(ok, {})).ok).toBe(true);
    // The calls are done while the notice is still on its way: they never waited for it.
    expect(rt.alerts.sinks()).toMatchObject([{ delivered: 0, failed: 0 }, { sink: "opentelemetry" }]);
    while (hung.attempts() === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100)); // the first attempt times out; the retry waits a minute
    const closing = Date.now();
    await rt.close();
    expect(Date.now() - closing).toBeLessThan(10_000);
    expect(rt.alerts.sinks()[0]).toMatchObject({ delivered: 0, failed: 1 });
    expect(errors.map(String)).toContainEqual(expect.stringMatching(/unreachable: .*gave up after 1 attempts: the runtime closed before the alert was delivered/));
  });

  it("each notice is an OpenTelemetry event (a log record named bulwark.alert)", async () => {
    const records: LogRecord[] = [];
    logs.setGlobalLoggerProvider({ getLogger: () => ({ emit: (r: LogRecord) => void records.push(r), enabled: () => true }) });
    try {
      const rt = createRuntime();
      const run = rt.startRun({ agent: "a", runId: "run-o" });
      await run.handOff("needs a person");
      await rt.alerts.flush();
      expect(records).toMatchObject([
        { eventName: "bulwark.alert", severityText: "WARN", body: "run run-o (a) was handed to a person: needs a person", attributes: { "bulwark.alert.kind": "run_handed_off", "bulwark.alert.event": "firing", "gen_ai.conversation.id": "run-o", "gen_ai.agent.name": "a" } },
      ]);
      await rt.close();
    } finally {
      logs.disable();
    }
  });

  it("bad webhook options are refused when the runtime is made", () => {
    const clock = new ManualClock();
    expect(() => webhookSink({ url: "not a url", secret: SECRET }, clock)).toThrow(/"not a url" is not a URL/);
    expect(() => webhookSink({ url: "ftp://x/y", secret: SECRET }, clock)).toThrow(/must be http or https/);
    expect(() => webhookSink({ url: "http://x/y", secret: "short" }, clock)).toThrow(/at least 16 characters/);
    expect(() => createRuntime({ alerts: { webhook: { url: "http://x/y", secret: SECRET, maxAttempts: 0 } } })).toThrow(/maxAttempts/);
    expect(verifyWebhookSignature(SECRET, "garbage", "{}")).toBe(false);
    expect(signWebhook(SECRET, "{}", 1)).toMatch(/^t=1,v1=[0-9a-f]{64}$/);
  });
});
