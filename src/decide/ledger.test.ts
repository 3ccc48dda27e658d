import { describe, expect, it } from "vitest";
import { compareVersions, FactError, FactLedger, MAX_FACT_VALUE_CHARS, normalizeFact } from "./ledger.js";

const now = Date.UTC(2026, 0, 1);
const fact = (f: Record<string, unknown>, seq?: number) => normalizeFact({ key: "k", source: "s", value: 1, ...f }, { now, ...(seq !== undefined ? { seq } : {}) });

describe("normalizeFact", () => {
  it("resolves asOf to epoch ms and authority to 0", () => {
    const f = fact({ asOf: "2025-03-01T00:00:00Z" });
    expect(f.asOf).toBe(Date.UTC(2025, 2, 1));
    expect(f.authority).toBe(0);
    expect(fact({ asOf: new Date(5) }).asOf).toBe(5);
  });

  it("refuses a malformed date, naming the fact", () => {
    expect(() => normalizeFact({ key: "fare.rule", source: "faq", value: 1, asOf: "31/02/2024 noonish" }, { now })).toThrow(
      /fact fare\.rule: asOf "31\/02\/2024 noonish" is not a valid time/,
    );
    expect(() => fact({ asOf: new Date(NaN) })).toThrow(FactError);
    expect(() => fact({ asOf: Infinity })).toThrow(/not a valid time/);
  });

  it("refuses values over the size limit instead of truncating them", () => {
    const big = "x".repeat(MAX_FACT_VALUE_CHARS);
    expect(() => fact({ key: "doc.body", value: big })).toThrow(/fact doc\.body: its value is \d+ characters as JSON, more than the limit of 16384/);
    expect(fact({ value: "x".repeat(MAX_FACT_VALUE_CHARS - 2) }).value).toHaveLength(MAX_FACT_VALUE_CHARS - 2);
  });

  it("refuses missing keys, sources, values and bad authority or version", () => {
    expect(() => normalizeFact({ source: "s", value: 1 }, { now })).toThrow(/key must be a non-empty text/);
    expect(() => normalizeFact(null, { now })).toThrow(/expected \{ key, value, source \}/);
    expect(() => fact({ source: "" })).toThrow(/source must be/);
    expect(() => fact({ value: undefined })).toThrow(/no value/);
    expect(() => fact({ value: () => 1 })).toThrow(/not JSON/);
    expect(() => fact({ authority: NaN })).toThrow(/authority must be a finite number/);
    expect(() => fact({ version: { v: 1 } })).toThrow(/version must be a number or a text/);
  });
});

describe("compareVersions", () => {
  it("orders numbers and texts naturally", () => {
    expect(compareVersions(2, 10)).toBeLessThan(0);
    expect(compareVersions("v2", "v10")).toBeLessThan(0);
    expect(compareVersions("2024-11", "2024-02")).toBeGreaterThan(0);
    expect(compareVersions("1.2", "1.2")).toBe(0);
    expect(compareVersions("1.2", "1.2.1")).toBeLessThan(0);
  });
});

describe("FactLedger", () => {
  it("higher authority wins whatever the freshness", () => {
    const l = new FactLedger();
    l.offer(fact({ value: "new", authority: 1, asOf: now }));
    const o = l.offer(fact({ value: "old", source: "policy", authority: 2, asOf: now - 1e9 }));
    expect(o.status).toBe("won");
    expect(l.get("k")?.value).toBe("old");
    expect(l.superseded("k").map((f) => f.value)).toEqual(["new"]);
    const lost = l.offer(fact({ value: "newer", authority: 1, asOf: now + 1 }));
    expect(lost).toMatchObject({ status: "lost", why: "authority 2 against 1" });
    expect(l.get("k")?.source).toBe("policy");
  });

  it("at equal authority the newer version wins, before asOf", () => {
    const l = new FactLedger();
    l.offer(fact({ value: "a", version: 3, asOf: now }));
    expect(l.offer(fact({ value: "b", version: 2, asOf: now + 1000 })).status).toBe("lost");
    expect(l.offer(fact({ value: "c", version: 4, asOf: now - 1000 })).status).toBe("won");
    expect(l.get("k")?.value).toBe("c");
  });

  it("falls back to asOf when versions are not both declared", () => {
    const l = new FactLedger();
    l.offer(fact({ value: "a", version: 3, asOf: now }));
    expect(l.offer(fact({ value: "b", asOf: now + 1 })).status).toBe("won");
  });

  it("equal authority and freshness with different values is a contradiction; a stronger source settles it", () => {
    const l = new FactLedger();
    l.offer(fact({ value: 120, source: "ledger-a", asOf: now }));
    const o = l.offer(fact({ value: 80, source: "ledger-b", asOf: now }));
    expect(o.status).toBe("contradiction");
    expect(l.get("k")).toBeUndefined();
    expect(l.contested("k")?.map((f) => f.value)).toEqual([120, 80]);
    expect(l.offer(fact({ value: 120, source: "ledger-c", asOf: now })).status).toBe("disputed");
    expect(l.offer(fact({ value: 1, source: "weak", authority: -1 })).status).toBe("disputed");
    expect(l.offer(fact({ value: 120, source: "core-banking", authority: 5 })).status).toBe("won");
    expect(l.get("k")?.source).toBe("core-banking");
    expect(l.contested("k")).toBeUndefined();
  });

  it("arrival order is not freshness between sources: no dates and no versions, different values, is a contradiction", () => {
    const l = new FactLedger();
    l.offer(fact({ value: "a", source: "one" }));
    expect(l.offer(fact({ value: "b", source: "two" })).status).toBe("contradiction");
  });

  it("a source's later report supersedes its own earlier one (a reservation read again after a change)", () => {
    const l = new FactLedger();
    l.offer(fact({ value: "economy", source: "reservations" }, l.nextSeq()));
    const o = l.offer(fact({ value: "business", source: "reservations" }, l.nextSeq()));
    expect(o).toMatchObject({ status: "revised", winner: { value: "business" }, previous: { value: "economy" } });
    expect(l.get("k")?.value).toBe("business");
    expect(l.superseded("k").map((f) => f.value)).toEqual(["economy"]);
    // Without sequence numbers, the order of arrival says which report is later.
    const m = new FactLedger();
    m.offer(fact({ value: 1 }));
    expect(m.offer(fact({ value: 2 })).status).toBe("revised");
    expect(m.get("k")?.value).toBe(2);
  });

  it("a source's report that is older by its own version or date does not supersede its newer one", () => {
    const l = new FactLedger();
    l.offer(fact({ value: "new", version: 5 }));
    expect(l.offer(fact({ value: "old", version: 4 })).status).toBe("lost");
    expect(l.get("k")?.value).toBe("new");
  });

  it("an earlier report arriving late (a slow call) does not undo the source's later one", () => {
    const l = new FactLedger();
    const early = l.nextSeq();
    const late = l.nextSeq();
    l.offer(fact({ value: "after change" }, late));
    expect(l.offer(fact({ value: "before change" }, early))).toMatchObject({ status: "lost", why: "a later report from s" });
    expect(l.get("k")?.value).toBe("after change");
  });

  it("a source that changes its report settles a contradiction with another source when they now agree, and keeps it when not", () => {
    const l = new FactLedger();
    l.offer(fact({ value: 120, source: "ledger-a" }));
    expect(l.offer(fact({ value: 80, source: "ledger-b" })).status).toBe("contradiction");
    expect(l.offer(fact({ value: 90, source: "ledger-a" })).status).toBe("contradiction");
    expect(l.contested("k")?.map((f) => `${f.source}=${String(f.value)}`).sort()).toEqual(["ledger-a=90", "ledger-b=80"]);
    expect(l.offer(fact({ value: 80, source: "ledger-a" })).status).toBe("agrees");
    expect(l.get("k")?.value).toBe(80);
    // The same report again while contested is no new contradiction.
    l.offer(fact({ value: 1, source: "x" }));
    expect(l.offer(fact({ value: 1, source: "x" })).status).toBe("disputed");
  });

  it("judge tells what a source's later report would do without changing the ledger", () => {
    const l = new FactLedger();
    l.offer(fact({ value: 1 }));
    expect(l.judge(fact({ value: 2 })).status).toBe("revised");
    expect(l.get("k")?.value).toBe(1);
    expect(l.superseded("k")).toEqual([]);
  });

  it("compares values structurally: key order and number spelling do not matter", () => {
    const l = new FactLedger();
    l.offer(normalizeFact({ key: "bal", source: "a", value: { amount: 120, currency: "EUR" } }, { now }));
    const o = l.offer(normalizeFact({ key: "bal", source: "b", value: JSON.parse('{"currency":"EUR","amount":120.0}') }, { now }));
    expect(o.status).toBe("agrees");
    expect(l.matches("bal", { currency: "EUR", amount: 1.2e2 })).toBe(true);
    expect(l.matches("bal", { currency: "EUR", amount: 121 })).toBe(false);
  });

  it("judge does not change the ledger", () => {
    const l = new FactLedger();
    expect(l.judge(fact({})).status).toBe("new");
    expect(l.has("k")).toBe(false);
  });

  it("snapshot lists current and contested keys", () => {
    const l = new FactLedger();
    l.offer(normalizeFact({ key: "x", source: "a", value: 1 }, { now }));
    l.offer(normalizeFact({ key: "y", source: "a", value: 1 }, { now }));
    l.offer(normalizeFact({ key: "y", source: "b", value: 2 }, { now }));
    const s = l.snapshot();
    expect(s.current.map((f) => f.key)).toEqual(["x"]);
    expect(s.contested).toHaveLength(1);
    expect(s.contested[0]!.contenders).toHaveLength(2);
  });
});
