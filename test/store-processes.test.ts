/**
 * Real processes racing on one key through one store: 4 children each claim, execute a side
 * effect (a line appended to a shared file) and complete. Exactly one effect must happen,
 * and all four must end with the same recorded outcome. SQLite (one file) and PostgreSQL.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../src/store/open.js";
import { dropSchemas, pgAvailable, PG_URL, schemaPrefix } from "./fixtures/store-pg.js";

const child = fileURLToPath(new URL("./fixtures/store-race-child.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "bulwark-procs-"));
const prefix = schemaPrefix();
const up = await pgAvailable();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (up) await dropSchemas(prefix);
});

interface Racer {
  ready: Promise<void>;
  done: Promise<{ outcome: unknown; executed: boolean }>;
  go(): void;
}

function racer(spec: string, effects: string, key: string, owner: string): Racer {
  const p = spawn(process.execPath, ["--import", "tsx", child, spec, effects, key, owner], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.includes("ready\n")) onReady();
  });
  p.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ outcome: unknown; executed: boolean }>((resolve, reject) => {
    p.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${owner} exited ${code}: ${err}`));
      const last = out.trim().split("\n").pop()!;
      resolve(JSON.parse(last));
    });
  });
  return { ready, done, go: () => p.stdin.write("go\n") };
}

async function race(spec: string, key: string) {
  const effects = join(dir, `effects-${key}`);
  writeFileSync(effects, "");
  const racers = Array.from({ length: 4 }, (_, i) => racer(spec, effects, key, `child-${i}`));
  await Promise.all(racers.map((r) => r.ready));
  for (const r of racers) r.go();
  const results = await Promise.all(racers.map((r) => r.done));
  const lines = readFileSync(effects, "utf8").split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(results.filter((r) => r.executed)).toHaveLength(1);
  const winner = lines[0]!;
  for (const r of results) {
    expect(r.outcome).toEqual({ ok: true, value: { charge: `ch_${winner}`, amount: 120, note: "café ☕" } });
  }
  return spec;
}

describe("4 processes racing on one key", () => {
  it("SQLite file: one effect, one outcome for all", async () => {
    const spec = `sqlite:${join(dir, "race.db")}`;
    await (await openStore(spec)).close(); // created first, as the runtime's first process would
    for (const key of ["k1", "k2", "k3"]) await race(spec, key);
  }, 60_000);

  it("SQLite file created by the racers themselves (concurrent migrations)", async () => {
    await race(`sqlite:${join(dir, "fresh.db")}`, "k1");
  }, 60_000);

  it.skipIf(!up)("PostgreSQL: one effect, one outcome for all (concurrent migrations too)", async () => {
    const spec = `${PG_URL}?schema=${prefix}_race`;
    for (const key of ["k1", "k2", "k3"]) await race(spec, key);
  }, 60_000);
});
