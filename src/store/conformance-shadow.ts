/**
 * The conformance cases of the shadow decisions table (see conformance.ts, which declares
 * them for every store).
 */
import { describe, expect, it } from "vitest";
import type { ShadowDecisionRecord, Store } from "./types.js";

export function describeShadowConformance(store: () => Store, T0: number) {
  const decision = (over: Partial<ShadowDecisionRecord> = {}): ShadowDecisionRecord => ({
    runId: "run-1",
    agent: "ops",
    callId: "c-1",
    tool: "drop_table",
    args: { table: "users", note: "ünïcode ☃" },
    stage: "admission",
    kind: "frozen",
    message: "drop_table was not run: a freeze is in force",
    at: T0,
    ...over,
  });

  describe("shadow decisions", () => {
    it("records and lists them newest first, exactly as given", async () => {
      expect(await store().shadow.list()).toEqual([]);
      await store().shadow.record([decision(), decision({ callId: "c-2", stage: "validate-input", kind: "invalid_input", at: T0 + 5 })]);
      await store().shadow.record([decision({ callId: "c-3", at: T0 + 5 })]);
      await store().shadow.record([]);
      expect(await store().shadow.list()).toEqual([decision({ callId: "c-3", at: T0 + 5 }), decision({ callId: "c-2", stage: "validate-input", kind: "invalid_input", at: T0 + 5 }), decision()]);
    });

    it("filters by time, by run, and limits to the newest", async () => {
      await store().shadow.record([decision(), decision({ callId: "c-2", runId: "run-2", at: T0 + 10 }), decision({ callId: "c-3", at: T0 + 20 })]);
      expect((await store().shadow.list({ since: T0 + 10 })).map((d) => d.callId)).toEqual(["c-3", "c-2"]);
      expect((await store().shadow.list({ runId: "run-1" })).map((d) => d.callId)).toEqual(["c-3", "c-1"]);
      expect((await store().shadow.list({ limit: 1 })).map((d) => d.callId)).toEqual(["c-3"]);
      expect((await store().shadow.list({ since: T0 + 21 }))).toEqual([]);
    });

    it("concurrent records all land", async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store().shadow.record([decision({ callId: `c-${i}`, at: T0 + i })])));
      expect((await store().shadow.list()).map((d) => d.callId)).toEqual(Array.from({ length: 20 }, (_, i) => `c-${19 - i}`));
    });
  });
}
