import { describe, expect, it } from "vitest";
import { readInstant } from "./time.js";

describe("readInstant", () => {
  it("takes epoch ms, Dates and ISO 8601 text with a zone, the same moment wherever it runs", () => {
    expect(readInstant(0)).toEqual({ ms: 0 });
    expect(readInstant(new Date(5))).toEqual({ ms: 5 });
    expect(readInstant("2026-07-18T12:00Z")).toEqual({ ms: Date.UTC(2026, 6, 18, 12) });
    expect(readInstant("2026-07-18T08:00:00.000-04:00")).toEqual({ ms: Date.UTC(2026, 6, 18, 12) });
    expect(readInstant("2026-07-18 14:00+0200")).toEqual({ ms: Date.UTC(2026, 6, 18, 12) });
    for (const v of ["2026-07-18T12:00", "2026-07-18", "Sat Jul 18 2026 12:00:00"]) expect(readInstant(v)).toEqual({ problem: expect.stringMatching(/has no time zone/) });
    for (const v of ["soon", "", null, NaN, Infinity, {}]) expect(readInstant(v)).toEqual({ problem: expect.stringMatching(/is not a time/) });
  });
});
