import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime, ManualClock } from "bulwark";
import { crashChild, TransferLedger, transferTool, type CrashPoint } from "./process-crash.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-crash-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// One real process, SIGKILLed with two transfers in flight: one killed after its row was
// written, one just before. A new runtime on the same store, its clock past the lease,
// settles each lapsed claim with the tool's verify probe.
describe("a process killed mid-call, then the same intents again", () => {
  it("after the effect: recovered, not run again; before it: run once", async () => {
    const store = `sqlite:${join(dir, "bulwark.db")}`;
    const worldPath = join(dir, "world.db");
    const start = Date.UTC(2026, 0, 1);
    const job = (id: string, at: CrashPoint) => ({ guarded: true, store, worldPath, at, transfer: { transferId: id, from: "a", to: "b", cents: 100 } });
    const jobs = [job("tr_after", "after_effect"), job("tr_before", "before_effect")];
    await crashChild({ startMs: start, jobs });

    const world = new TransferLedger(worldPath);
    expect([world.rows("tr_after"), world.rows("tr_before")]).toEqual([1, 0]);
    const clock = new ManualClock(start + 120_000);
    const rt = createRuntime({ store, clock, onError: () => {} });
    const run = rt.startRun({ agent: "restarted" });
    const tool = transferTool(world);
    const after = await run.call(tool, jobs[0]!.transfer);
    const before = await run.call(tool, jobs[1]!.transfer);
    await rt.close();
    expect(after).toMatchObject({ ok: true, replayed: true, recovered: true });
    expect(before).toMatchObject({ ok: true, replayed: false });
    expect([world.rows("tr_after"), world.rows("tr_before")]).toEqual([1, 1]);
    world.close();
  });
});
