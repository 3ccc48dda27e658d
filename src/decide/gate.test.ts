import { describe, expect, it, vi } from "vitest";
import { defineTool, type Outcome } from "../index.js";
import { kindOf, manualRuntime } from "../../test/fixtures/runtime.js";

const reservations = new Map<string, { seat: string }>();
const update = defineTool({ name: "update_reservation", effect: "write", execute: async (a: { id: string; seat: string }) => reservations.set(a.id, { seat: a.seat }) && a });
const email = defineTool({ name: "send_email", effect: "write", execute: async () => "sent" });
const get = defineTool({ name: "get_reservation", effect: "read", verifies: ["update_reservation"], execute: async (a: { id: string }) => reservations.get(a.id) ?? null });
const messageOf = (o: Outcome<unknown>) => (o.ok ? "" : o.failure.message);

describe("the verification gate, passed by a read that verifies the writes", () => {
  it("five updates in one conversation, each read back, are never refused", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 3 });
    const run = rt.startRun({ agent: "airline" });
    for (let i = 1; i <= 5; i++) {
      expect(kindOf(await run.call(update, { id: "R1", seat: `${i}A` }))).toBe("ok");
      expect(kindOf(await run.call(get, { id: "R1" }))).toBe("ok");
      expect(run.unverifiedDepth).toBe(0);
    }
  });

  it("the gate's message names the read that passes it, and calling it does", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 2 });
    rt.registerTools(get);
    const run = rt.startRun({ agent: "airline" });
    await run.call(update, { id: "R1", seat: "1A" });
    await run.call(update, { id: "R1", seat: "2A" });
    const refused = await run.call(update, { id: "R1", seat: "3A" });
    expect(refused).toMatchObject({ ok: false, failure: { kind: "verification_required", detail: { readers: ["get_reservation"] } } });
    expect(messageOf(refused)).toContain("Read them back first (call get_reservation), then call update_reservation again.");
    await run.call(get, { id: "R1" });
    expect(kindOf(await run.call(update, { id: "R1", seat: "3A" }))).toBe("ok");
  });

  it("a read verifies only the writes it declares: others stay unverified", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 3, maxConsecutiveFailures: 10 });
    const run = rt.startRun({ agent: "airline" });
    await run.call(email, { to: "a" });
    await run.call(update, { id: "R1", seat: "1A" });
    await run.call(email, { to: "b" });
    await run.call(get, { id: "R1" });
    expect(run.unverifiedDepth).toBe(2);
    await run.call(email, { to: "c" });
    const o = await run.call(update, { id: "R1", seat: "2A" });
    expect(kindOf(o)).toBe("verification_required");
    // No read verifies send_email: the message falls back to the general advice.
    expect(messageOf(o)).toContain("Verify the current state first");
  });

  it("a predicate of the read's arguments and the write decides which writes it verifies; one that throws verifies none", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 5 });
    const bySameId = defineTool({
      name: "get_one",
      effect: "read",
      verifies: (a: { id: string }, w) => w.tool === "update_reservation" && (w.args as { id: string }).id === a.id,
      execute: async (a: { id: string }) => reservations.get(a.id) ?? null,
    });
    const throwing = defineTool({ name: "get_bad", effect: "read", verifies: vi.fn(() => { throw new Error("bug"); }), execute: async () => null });
    const run = rt.startRun({ agent: "airline" });
    await run.call(update, { id: "R1", seat: "1A" });
    await run.call(update, { id: "R2", seat: "1B" });
    await run.call(throwing, {});
    expect(run.unverifiedDepth).toBe(2);
    await run.call(bySameId, { id: "R2" });
    expect(run.unverifiedDepth).toBe(1);
    await run.call(bySameId, { id: "R1" });
    expect(run.unverifiedDepth).toBe(0);
  });

  it("a failed read verifies nothing", async () => {
    const { rt } = manualRuntime({ maxUnverifiedDepth: 5 });
    const failing = defineTool({ name: "get_down", effect: "read", retry: false, verifies: ["update_reservation"], execute: async () => { throw new Error("503"); } });
    const run = rt.startRun({ agent: "airline" });
    await run.call(update, { id: "R1", seat: "1A" });
    expect(kindOf(await run.call(failing, {}))).toBe("tool_error");
    expect(run.unverifiedDepth).toBe(1);
  });

  it("defineTool refuses verifies on a write tool, and a malformed list", () => {
    expect(() => defineTool({ name: "w", effect: "write", verifies: ["x"], execute: async () => 1 })).toThrow(/verifies is for read tools/);
    expect(() => defineTool({ name: "r", effect: "read", verifies: [1] as never, execute: async () => 1 })).toThrow(/verifies must be a list of the names/);
  });
});
