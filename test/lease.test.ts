/**
 * A process paused (SIGSTOP) for longer than its lease, on SQLite and PostgreSQL: another
 * process takes the key over (its probe sees nothing) and runs the effect; the first,
 * resumed, finds its claim lost: its work is cancelled or fenced out, and it is never told
 * it succeeded. One effect, one success.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRuntime } from "../src/index.js";
import { spawnChild } from "./fixtures/child-process.js";
import { FencedWorld, transferTool } from "./fixtures/fenced-world.js";
import { PG_URL, scratchStores } from "./fixtures/store-pg.js";

const childScript = fileURLToPath(new URL("./fixtures/lease-child.ts", import.meta.url));
const { dir, prefix, up } = await scratchStores("lease");

const LEASE_MS = 600;
let n = 0;
const stores = [
  { name: "SQLite", spec: () => `sqlite:${join(dir, `store-${n++}.db`)}` },
  { name: "PostgreSQL", spec: () => `${PG_URL}?schema=${prefix}_${n++}` },
] as const;

describe.each(stores)("a process paused past its lease, on $name", ({ name, spec }) => {
  it.skipIf(name === "PostgreSQL" && !up)("is fenced out and never told it succeeded; the effect happens once", async () => {
    const store = spec();
    const worldPath = join(dir, `world-${n++}.db`);
    const world = new FencedWorld(worldPath);
    const rt = createRuntime({ store, onError: () => {}, idempotency: { leaseMs: LEASE_MS } });
    await rt.ready();
    const child = spawnChild(childScript, { store, world: worldPath, leaseMs: LEASE_MS });
    try {
      expect(await child.next()).toEqual({ ready: true });
      child.send({ op: "transfer", key: "t-1" });
      expect(await child.next()).toEqual({ event: "executing" });
      child.signal("SIGSTOP");
      // The paused owner renews nothing: once its lease lapses, this process takes the key
      // over, its probe finds no row, and it runs the transfer.
      const mine = await rt.startRun({ agent: "parent" }).call(transferTool(world, "parent"), { key: "t-1" });
      expect(mine).toMatchObject({ ok: true, replayed: false, value: { by: "parent" } });
      child.signal("SIGCONT");
      const { outcome } = await child.next();
      expect(outcome.ok).toBe(false);
      // Its renewal found the claim lost and cancelled the write, or the world refused its stale token.
      expect(outcome.failure.kind === "write_unverified" ? outcome.failure.detail : outcome.failure.detail.error).toEqual(
        outcome.failure.kind === "write_unverified" ? expect.objectContaining({ claimLost: true }) : expect.stringContaining("newer owner"),
      );
      expect(world.rows("t-1")).toEqual([expect.objectContaining({ by: "parent" })]);
      child.send({ op: "exit" });
      expect(await child.exited).toBe(0);
    } finally {
      child.signal("SIGCONT");
      await child.kill();
      await rt.close();
      world.close();
    }
  }, 30_000);
});
