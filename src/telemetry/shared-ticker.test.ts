import { afterEach, describe, expect, it, vi } from "vitest";
import { createRuntime } from "../index.js";
import { armedTickers, every } from "./shared-ticker.js";

describe("the shared ticker", () => {
  afterEach(() => vi.useRealTimers());

  it("one timer per period for every job; a job that throws does not stop the others; the last stop disarms it", async () => {
    vi.useFakeTimers();
    const before = armedTickers();
    const seen: string[] = [];
    const stopA = every(1_000, () => seen.push("a"));
    const stopBad = every(1_000, () => {
      throw new Error("boom");
    });
    const stopB = every(1_000, () => seen.push("b"));
    const stopC = every(5_000, () => seen.push("c"));
    expect(armedTickers()).toBe(before + 2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(seen).toEqual(["a", "b"]);
    stopA();
    stopA(); // twice: no harm
    stopBad();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(seen).toEqual(["a", "b", "b", "b", "b", "b", "c"]);
    stopB();
    expect(armedTickers()).toBe(before + 1);
    stopC();
    expect(armedTickers()).toBe(before);
  });

  it("many runtimes in one process arm one monitor timer between them, and none once they are closed", async () => {
    const before = armedTickers();
    const runtimes = Array.from({ length: 20 }, () => createRuntime({ monitors: { flushMs: 777 } }));
    expect(armedTickers()).toBe(before + 1);
    await Promise.all(runtimes.map((rt) => rt.close()));
    expect(armedTickers()).toBe(before);
  });
});
