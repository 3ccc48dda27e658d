import { describe, expect, it } from "vitest";
import { ApprovalError, createRuntime, defineTool, ManualClock, memoryStore } from "../index.js";

async function pendingRequest() {
  const clock = new ManualClock();
  const store = memoryStore();
  const rt = createRuntime({ clock, store, onError: (e) => { throw e; } });
  const tool = defineTool({ name: "drop_table", effect: "destructive", approval: "always", execute: async () => 1 });
  const run = rt.startRun({ agent: "coder" });
  const o = await run.call(tool, { table: "users" });
  const id = o.ok ? "" : (o.failure.detail!.approvalId as string);
  return { rt, clock, store, id, run };
}

describe("rt.approvals", () => {
  it("lists requests as { id, runId, tool, args, status } without internals", async () => {
    const { rt, id, run } = await pendingRequest();
    const list = await rt.approvals.list();
    expect(list).toEqual([{ id, runId: run.id, tool: "drop_table", args: { table: "users" }, status: "pending", requestedAt: expect.any(Number) }]);
    expect(await rt.approvals.list({ status: "approved" })).toEqual([]);
  });

  it("records who approved and when", async () => {
    const { rt, clock, id } = await pendingRequest();
    await clock.advance(1234);
    const after = await rt.approvals.approve(id, { by: "ada" });
    expect(after).toMatchObject({ status: "approved", by: "ada", decidedAt: clock.now() });
    expect(await rt.approvals.get(id)).toMatchObject({ status: "approved", by: "ada" });
  });

  it("records who denied, when and why", async () => {
    const { rt, clock, id } = await pendingRequest();
    const after = await rt.approvals.deny(id, { by: "bob", reason: "code freeze" });
    expect(after).toMatchObject({ status: "denied", by: "bob", reason: "code freeze", decidedAt: clock.now() });
  });

  it("an id that does not exist is a clear ApprovalError", async () => {
    const { rt } = await pendingRequest();
    await expect(rt.approvals.approve("nope", { by: "ada" })).rejects.toThrow(ApprovalError);
    await expect(rt.approvals.deny("nope", { by: "ada" })).rejects.toThrow(/no approval request with id "nope"/);
  });

  it("approving twice is a no-op that keeps the first decider and time", async () => {
    const { rt, clock, id } = await pendingRequest();
    const first = await rt.approvals.approve(id, { by: "ada" });
    await clock.advance(5_000);
    const second = await rt.approvals.approve(id, { by: "bob" });
    expect(second).toEqual(first);
  });

  it("the opposite decision after one was made is an error naming the first", async () => {
    const { rt, id } = await pendingRequest();
    await rt.approvals.approve(id, { by: "ada" });
    await expect(rt.approvals.deny(id, { by: "bob", reason: "no" })).rejects.toThrow(/already approved by ada/);
    expect((await rt.approvals.get(id))?.status).toBe("approved");
  });

  it("a decision needs a decider", async () => {
    const { rt, id } = await pendingRequest();
    await expect(rt.approvals.approve(id, { by: " " })).rejects.toThrow(/who decides/);
    await expect(rt.approvals.approve(id, undefined as never)).rejects.toThrow();
    expect((await rt.approvals.get(id))?.status).toBe("pending");
  });

  it("another runtime on the same store (another process) sees and decides the request", async () => {
    const { store, id, run } = await pendingRequest();
    const other = createRuntime({ store, onError: (e) => { throw e; } });
    await other.ready();
    expect((await other.approvals.list({ runId: run.id })).map((a) => a.id)).toEqual([id]);
    await other.approvals.approve(id, { by: "ops" });
    expect((await store.approvals.get(id))?.status).toBe("approved");
  });
});
