import { describe, expect, it } from "vitest";
import { PendingWork } from "./pending-work.js";

describe("PendingWork", () => {
  it("holds work until it settles (resolved or rejected), in both places it was tracked, and reuses the slots it frees", async () => {
    const runtime = new PendingWork();
    const run = new PendingWork();
    let finish!: () => void;
    const slow = new Promise<void>((r) => (finish = r));
    const failing = Promise.reject(new Error("no"));
    failing.catch(() => {});
    runtime.track(slow, run);
    runtime.track(failing, run);
    runtime.track(Promise.resolve(1));
    expect(runtime.list()).toHaveLength(3);
    expect(run.list()).toEqual([slow, failing]);
    await new Promise((r) => setTimeout(r, 0));
    expect(runtime.list()).toEqual([slow]);
    expect(run.list()).toEqual([slow]);
    const next = Promise.resolve(2);
    runtime.track(next);
    expect(runtime.list()).toEqual([slow, next]);
    finish();
    await new Promise((r) => setTimeout(r, 0));
    expect(runtime.list()).toEqual([]);
    expect(run.list()).toEqual([]);
  });
});
