/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core; no browser
 * is ever downloaded): a person signs in with a token (once for the tab), sees a run's
 * pending approval, approves it, and the store says approved by the token's holder;
 * declares a freeze, and the agent's next write is refused; reviews a run that spent its
 * destructive budget, and the agent may change things again.
 *
 * Without /usr/bin/chromium the test skips with a message, except in CI (CI set), where
 * it fails: .ci/run installs Chromium.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, defineTool, ToolError, type Outcome, type Runtime } from "../src/index.js";
import { startServer, type DashboardServer } from "../src/server/http.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "0123456789abcdef0123456789abcdef";
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does) for the dashboard's browser test`);
  console.warn(`dashboard.browser.test: skipped, ${CHROMIUM} is missing (apt-get install chromium); in CI this fails`);
}

describe.skipIf(!available)("the dashboard, in Chromium", () => {
  let dir: string;
  let storeSpec: string;
  let agent: Runtime;
  let ops: Runtime;
  let server: DashboardServer;
  let browser: Browser;
  let page: Page;

  const dropTable = defineTool({ name: "drop_table", effect: "destructive", approval: "always", execute: async (a: { table: string }) => `dropped ${a.table}`, verify: async () => true });
  const writeNote = defineTool({ name: "write_note", effect: "write", execute: async () => "written", verify: async () => true });
  const purgeCache = defineTool({ name: "purge_cache", effect: "destructive", execute: async (a: { region: string }) => `purged ${a.region}`, verify: async () => true });
  const lookup = defineTool({ name: "lookup", effect: "read", execute: async () => 1 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bulwark-dashboard-"));
    storeSpec = `sqlite:${join(dir, "bulwark.db")}`;
    agent = createRuntime({ store: storeSpec });
    ops = createRuntime({ store: storeSpec });
    await Promise.all([agent.ready(), ops.ready()]);
    server = await startServer({ runtime: ops, port: 0, tokens: [{ name: "ada", role: "decide", token: TOKEN }] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Nothing may come from anywhere but the server: no CDN, no fonts.
    await page.route(/^(?!http:\/\/127\.0\.0\.1)/, (route) => route.abort());
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await ops?.close();
    await agent?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks for a token once per tab; shows a run's pending approval; Approve records the token's holder, and the agent's repeat runs", async () => {
    const run = agent.startRun({ agent: "db-bot", runId: "run-browser-1" });
    const first = await run.call(dropTable, { table: "prod_users" });
    expect(first.ok ? "ok" : first.failure.kind).toBe("approval_required");
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(`${server.url}/`);
    await expect.poll(() => page.title()).toBe("Bulwark");
    // Nothing but the sign-in form until a token is given; a wrong one is said so.
    await page.locator("#signin", { hasText: "needs an access token" }).waitFor();
    expect(await page.locator("main").isVisible()).toBe(false);
    await page.getByLabel("Access token").fill("not-the-token-0123456789abcdef");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#signin", { hasText: "not valid" }).waitFor();
    await page.getByLabel("Access token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#session", { hasText: "Signed in as ada" }).waitFor();
    // Kept for the tab: a reload does not ask again.
    await page.reload();
    await page.locator("#session", { hasText: "Signed in as ada" }).waitFor();
    expect(await page.locator("#signin").isVisible()).toBe(false);
    expect(await page.getByLabel("Acting as").isVisible()).toBe(false);

    const row = page.locator("#approvals tr[data-status]").filter({ hasText: "drop_table" });
    await row.waitFor();
    await expect.poll(() => row.getAttribute("data-status")).toBe("pending");
    expect(await row.textContent()).toContain("prod_users");
    // The run shows up with its agent and mode.
    await page.locator("#runs tr", { hasText: "db-bot" }).waitFor();

    await page.getByRole("button", { name: /^Approve drop_table/ }).click();
    await expect.poll(() => page.locator("#approvals tr[data-status]").filter({ hasText: "drop_table" }).getAttribute("data-status")).toBe("approved");
    await expect.poll(() => page.locator("#notice").textContent()).toMatch(/Approved drop_table/);
    expect(await page.locator("#approvals").textContent()).toContain("approved by ada");
    expect(await ops.approvals.list()).toEqual([expect.objectContaining({ status: "approved", by: "ada", tool: "drop_table" })]);

    expect(await run.call(dropTable, { table: "prod_users" })).toMatchObject({ ok: true, value: "dropped prod_users" });

    // Open the run: its recorded change is listed.
    await page.getByRole("button", { name: "Show run run-browser-1" }).first().click();
    await page.locator("#run-detail", { hasText: "Recorded changes (1)" }).waitFor();
    expect(errors).toEqual([]);
    expect(failed).toEqual([]);
  });

  it("declares a freeze from the page: the banner shows it, the agent's write is refused; Lift ends it", async () => {
    const run = agent.startRun({ agent: "release-bot", runId: "run-browser-2", policy: { maxConsecutiveFailures: 10 } });
    // A request made before the freeze stays in the queue (during it, the call is refused before asking).
    await agent.startRun({ agent: "support-bot", runId: "run-browser-3" }).call(dropTable, { table: "prod_sessions" });
    await page.locator("#approvals tr[data-status=pending]").waitFor();
    await page.getByLabel("Reason", { exact: true }).fill("release 4.2 in progress");
    await page.getByRole("button", { name: "Declare freeze" }).click();
    await page.locator("#freeze-banner", { hasText: "release 4.2 in progress" }).waitFor();
    await page.locator("#freezes tr", { hasText: "in force" }).waitFor();
    expect(await ops.freezes()).toEqual([expect.objectContaining({ reason: "release 4.2 in progress", by: "ada" })]);

    const refused = await run.call(writeNote, { text: "deploy" });
    expect(refused.ok ? "ok" : refused.failure.kind).toBe("frozen");
    // The same write from a run in shadow mode goes through; the page shows what it would have been refused.
    const shadowed = await agent.startRun({ agent: "release-bot", runId: "run-browser-4", enforce: false }).call(writeNote, { text: "deploy" });
    expect(shadowed).toMatchObject({ ok: true, value: "written", shadow: [{ kind: "frozen" }] });
    await page.locator("#shadow tr", { hasText: "write_note" }).filter({ hasText: "frozen" }).waitFor();
    expect(await page.locator("#shadow-count").textContent()).toBe("(1 would-be refusals)");

    // A screenshot to look at: the page as a person sees it, frozen, with a decided and a pending approval.
    await page.screenshot({ path: join(tmpdir(), "bulwark-dashboard.png"), fullPage: true });

    await page.getByRole("button", { name: /^Lift freeze/ }).click();
    await page.locator("#freeze-banner").waitFor({ state: "hidden" });
    expect(await ops.freezes()).toEqual([]);
    expect((await run.call(writeNote, { text: "deploy" })).ok).toBe(true);
  });

  it("a run has a URL; alerts are shown and acknowledged; a drifting agent's decisions are charted from real data", async () => {
    // A runtime whose monitor has a small baseline, so that a drift shows in a few decisions.
    const watched = createRuntime({ store: storeSpec, monitors: { decisions: { baseline: 60, window: 40, checkEvery: 10, alpha: 0.01 }, flushMs: 60_000 } });
    const before = ["approve", "approve", "approve", "approve", "approve", "approve", "deny", "deny", "deny", "deny", "escalate"];
    for (let i = 0; i < 80; i++) watched.startRun({ agent: "refunds" }).observe("refund decision", before[i % before.length]!);
    await watched.monitors!.flush();
    for (let i = 0; i < 60; i++) {
      watched.startRun({ agent: "refunds" }).observe("refund decision", i % 10 === 9 ? "deny" : "approve");
      if (i % 10 === 9) await watched.monitors!.flush();
    }
    await watched.alerts.flush();
    const drift = (await ops.alerts.list()).find((a) => a.kind === "drift");
    expect(drift).toMatchObject({ agent: "refunds", state: "firing" });
    await watched.close();

    // A run's page opens from its URL.
    await page.goto(`${server.url}/#run=run-browser-1`);
    await page.locator("#run-detail", { hasText: "run-browser-1" }).waitFor();

    const alertRow = page.locator(`#alerts tr[data-alert-id="${drift!.id}"]`);
    await alertRow.waitFor();
    expect(await alertRow.getAttribute("data-state")).toBe("firing");
    expect(await alertRow.textContent()).toContain("refunds: refund decision drifted");

    const monitor = page.locator('#monitors figure[data-monitor="decision:refunds:refund decision"]');
    await monitor.waitFor();
    expect(await monitor.getAttribute("data-drifting")).toBe("true");
    await monitor.locator("canvas").first().waitFor();

    // The screenshot of the distribution chart, decoded in the page: the tallest bar of the
    // latest window (approve, 90%) stands about 90/55 as high as the baseline's (approve, 55%).
    const chart = monitor.locator('[data-chart="distribution"]');
    const png = await chart.screenshot({ path: join(tmpdir(), "bulwark-drift-chart.png") });
    const heights = { baseline: Math.max(...(await columns(page, png, [0x5b, 0x7d, 0xb1]))), window: Math.max(...(await columns(page, png, [0xd9, 0x82, 0x2b]))) };
    expect(heights.baseline).toBeGreaterThan(20);
    expect(heights.window / heights.baseline).toBeGreaterThan(1.3);
    expect(heights.window / heights.baseline).toBeLessThan(2.1);

    await page.getByRole("button", { name: /^Acknowledge: refunds: refund decision drifted/ }).click();
    await expect.poll(() => page.locator(`#alerts tr[data-alert-id="${drift!.id}"]`).getAttribute("data-state")).toBe("acknowledged");
    expect(await ops.alerts.list({ state: "acknowledged" })).toEqual([expect.objectContaining({ id: drift!.id, acknowledgedBy: "ada" })]);
  }, 60_000);

  it("shows each run's steps, destructive budget and mode; Review renews a spent budget (recorded as the token's holder) and the agent may change things again", async () => {
    // Spent: three destructive actions (the default budget, as the server's policy), the fourth refused.
    const spent = agent.startRun({ agent: "cache-bot", runId: "run-browser-5" });
    for (const region of ["eu", "us", "ap"]) expect((await spent.call(purgeCache, { region })).ok).toBe(true);
    const refused = await spent.call(purgeCache, { region: "sa" });
    expect(refused.ok ? "ok" : refused.failure.kind).toBe("destructive_budget_exceeded");
    expect(spent.mode).toBe("read_only");
    // One destructive action: a review is offered, though the run is not narrowed. Only reads: none is.
    expect((await agent.startRun({ agent: "cache-bot", runId: "run-browser-6" }).call(purgeCache, { region: "eu" })).ok).toBe(true);
    expect((await agent.startRun({ agent: "cache-bot", runId: "run-browser-7" }).call(lookup, {})).ok).toBe(true);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    // Signed in whatever ran before (this test may run alone).
    await page.goto(`${server.url}/`);
    await page.evaluate((t) => sessionStorage.setItem("bulwark.token", t), TOKEN);
    await page.reload();
    await page.locator("#session", { hasText: "Signed in as ada" }).waitFor();

    const row = page.locator('#runs tr[data-run-id="run-browser-5"]');
    await row.waitFor();
    const cell = (name: string) => row.locator("td").nth(["Run", "Agent", "Status", "Mode", "Reason", "Steps", "Destructive", "Confidence"].indexOf(name));
    expect(await row.getAttribute("data-mode")).toBe("read_only");
    expect(await cell("Mode").textContent()).toBe("read only");
    expect(await cell("Reason").textContent()).toMatch(/destructive budget \(3\) is used up/);
    expect(await cell("Steps").textContent()).toBe("3");
    expect(await cell("Destructive").textContent()).toBe("3 / 3");
    expect(await page.locator('#runs tr[data-run-id="run-browser-6"] td').nth(6).textContent()).toBe("1 / 3");
    expect(await page.getByRole("button", { name: "Review run run-browser-6" }).count()).toBe(1);
    expect(await page.locator('#runs tr[data-run-id="run-browser-7"] td').nth(6).textContent()).toBe("0 / 3");
    expect(await page.getByRole("button", { name: "Review run run-browser-7" }).count()).toBe(0);

    // Dismissed, nothing is recorded.
    const review = page.getByRole("button", { name: "Review run run-browser-5" });
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await review.click();
    await expect.poll(() => asked).toMatch(/^Record that ada reviewed the changes run run-browser-5 made \(3 destructive\)\? .* up to 3 destructive actions again/);
    expect(await ops.store.runs.get("run-browser-5")).toMatchObject({ mode: "read_only", reviews: [] });

    page.once("dialog", (d) => void d.accept());
    await review.click();
    await expect.poll(() => row.getAttribute("data-mode")).toBe("normal");
    expect(await cell("Destructive").textContent()).toBe("0 / 3");
    expect(await cell("Reason").textContent()).toBe("");
    expect(await page.locator("#notice").textContent()).toBe("Reviewed run run-browser-5: its destructive budget is renewed.");
    expect(await row.textContent()).toContain("last by ada");
    expect(await page.getByRole("button", { name: "Review run run-browser-5" }).count()).toBe(0);
    expect(await ops.store.runs.get("run-browser-5")).toMatchObject({ mode: "normal", destructive: { used: 0 }, reviews: [expect.objectContaining({ by: "ada" })] });

    // The agent's run, in its own runtime, may make changes again; the page follows.
    expect(await spent.call(purgeCache, { region: "sa" })).toMatchObject({ ok: true, value: "purged sa" });
    await page.getByRole("button", { name: "Refresh now" }).click();
    await expect.poll(() => cell("Destructive").textContent()).toBe("1 / 3");
    expect(await cell("Steps").textContent()).toBe("4");
    await page.getByRole("button", { name: "Show run run-browser-5" }).click();
    const summary = page.locator("#run-detail .run-summary");
    await summary.waitFor();
    expect(await summary.textContent()).toMatch(/^Steps 4 · destructive 1 \/ 3 · confidence 1\.00 · failures in a row 0 · last reviewed by ada /);
    expect(errors).toEqual([]);
  });

  it("a run's timeline lists every call it made; the latency and failure charts draw the store's calls, with the API's numbers beside them", async () => {
    const broken = defineTool({ name: "inventory", effect: "read", retry: false, execute: async () => { throw new ToolError("inventory is down", { retryable: false }); } });
    const mail = defineTool({ name: "send_mail", effect: "write", rules: [() => "no mail on Sundays"], execute: async () => "sent" });
    const run = agent.startRun({ agent: "shop-bot", runId: "run-browser-8", policy: { maxConsecutiveFailures: 100 } });
    const outcomes: Outcome<unknown>[] = [];
    for (let i = 0; i < 12; i++) outcomes.push(await run.call(lookup, {}, { toolCallId: `call_${i}` }));
    outcomes.push(await run.call(broken, {}), await run.call(mail, {}), await run.call(broken, {}));
    await run.end();
    const kinds = outcomes.map((o) => (o.ok ? "ok" : o.failure.kind));
    expect(kinds.slice(12)).toEqual(["tool_error", "policy_violation", "tool_error"]);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(`${server.url}/#run=run-browser-8`);
    await page.evaluate((t) => sessionStorage.setItem("bulwark.token", t), TOKEN);
    await page.reload();
    // Every call, in order, as made: its id, outcome, the stage that refused it and why.
    const rows = page.locator("#run-detail .timeline tr[data-call-id]");
    await expect.poll(() => rows.count()).toBe(15);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.callId))).toEqual(outcomes.map((o) => o.callId));
    expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.outcome))).toEqual(kinds);
    expect(await page.locator("#run-detail h3", { hasText: "Timeline" }).textContent()).toBe("Timeline (15 calls)");
    const refusal = rows.nth(13).locator("td");
    expect(await refusal.nth(1).textContent()).toBe("send_mail");
    expect(await refusal.nth(3).textContent()).toBe("rules");
    expect(await refusal.nth(4).textContent()).toContain("no mail on Sundays");
    expect(await rows.nth(2).locator("td").nth(1).textContent()).toBe("lookupcall_2");

    // The numbers beside the charts are the API's, for the same store. (Runs of the tests
    // before, not ended, write their last calls within a second: the page catches up at its
    // next refresh, every 3 s.)
    const latency = page.locator('#calls [data-chart="latency"]');
    const failures = page.locator('#calls [data-chart="failures"]');
    await latency.locator("canvas").waitFor();
    const read = async () => {
      const until = Date.now();
      const api = await (await fetch(`${server.url}/api/stats/calls?since=${until - 3_600_000}&until=${until}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
      return {
        shownLatency: await latency.locator("li[data-bucket]").evaluateAll((lis) => lis.map((li) => [(li as HTMLElement).dataset.bucket, Number((li as HTMLElement).dataset.count)])),
        apiLatency: (api.latency.counts as number[]).map((n, i) => [i < api.latency.bucketsSeconds.length ? String(api.latency.bucketsSeconds[i]) : "+Inf", n]).filter(([, n]) => (n as number) > 0),
        shownKinds: await failures.locator("li[data-kind]").evaluateAll((lis) => lis.map((li) => [(li as HTMLElement).dataset.kind, Number((li as HTMLElement).dataset.count), (li as HTMLElement).dataset.colour])),
        apiKinds: Object.fromEntries(Object.entries(api.failures.kinds as Record<string, number[]>).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)])),
      };
    };
    await expect.poll(async () => { const r = await read(); return JSON.stringify(r.shownLatency) === JSON.stringify(r.apiLatency); }, { timeout: 20_000, interval: 500 }).toBe(true);
    const { shownLatency, apiLatency, shownKinds, apiKinds } = await read();
    expect(shownLatency).toEqual(apiLatency);
    expect(Object.fromEntries(shownKinds.map(([k, n]) => [k, n]))).toEqual(apiKinds);
    expect(shownKinds.find(([k]) => k === "tool_error")![1]).toBeGreaterThanOrEqual(2);

    // What the charts drew: one latency bar per bucket that has calls; the failure lines in their colours.
    const bars = await columns(page, await latency.locator(".chart").screenshot({ path: join(tmpdir(), "bulwark-latency-chart.png") }), rgbOf("#2f7d4f"));
    const drawn = bars.map((n) => n > 0).reduce((runs, on, x, all) => runs + (on && !all[x - 1] ? 1 : 0), 0);
    expect(drawn).toBe(apiLatency.length);
    const lines = await failures.locator(".chart").screenshot({ path: join(tmpdir(), "bulwark-failures-chart.png") });
    for (const [, , colour] of shownKinds) expect((await columns(page, lines, rgbOf(colour as string))).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(errors).toEqual([]);
  });
});

/**
 * A screenshot decoded in the page: for each column of pixels, how many are near `rgb` (a
 * series' colour), so that a test reads what a chart drew (bar heights, how many bars).
 */
async function columns(page: Page, png: Buffer, rgb: number[]): Promise<number[]> {
  return page.evaluate(
    async ({ b64, rgb }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement("canvas");
      [c.width, c.height] = [img.width, img.height];
      const g = c.getContext("2d")!;
      g.drawImage(img, 0, 0);
      const { data } = g.getImageData(0, 0, c.width, c.height);
      const near = (i: number) => Math.abs(data[i]! - rgb[0]!) + Math.abs(data[i + 1]! - rgb[1]!) + Math.abs(data[i + 2]! - rgb[2]!) < 40;
      const counts: number[] = [];
      for (let x = 0; x < c.width; x++) {
        let n = 0;
        for (let y = 0; y < c.height; y++) if (near((y * c.width + x) * 4)) n++;
        counts.push(n);
      }
      return counts;
    },
    { b64: png.toString("base64"), rgb },
  );
}

/** "#2f7d4f" as [r, g, b]. */
const rgbOf = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
