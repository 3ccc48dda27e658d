import { describe, expect, it } from "vitest";
import { timeOrderedId } from "./ids.js";

describe("timeOrderedId", () => {
  it("is a UUID version 7 that carries the time in ms", () => {
    const id = timeOrderedId(Date.UTC(2026, 6, 18, 12));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(Date.UTC(2026, 6, 18, 12));
  });

  it("sorts as the times it was made at", () => {
    const ids = [3, 1, 2].map((t) => timeOrderedId(1_700_000_000_000 + t));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });

  it("ids made within one millisecond differ, across refills of the random pool, in every variant", () => {
    const ids = Array.from({ length: 5_000 }, () => timeOrderedId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(5_000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(["8", "9", "a", "b"]));
  });
});
