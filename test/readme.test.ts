/**
 * The README is the manual: its usage example must run and print what it says, and its
 * table of stages must be the pipeline's.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { STAGES } from "../src/stages/index.js";
import { readmeExample, runExample } from "./fixtures/readme.js";

it("the README's table of how a call flows names the stages of src/stages/index.ts, in their order, then record", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const table = readme.slice(readme.indexOf("## How a call flows")).split("\n\n").find((p) => p.startsWith("| stage |"))!;
  const rows = table.split("\n").slice(2).map((row) => row.split("|")[1]!.trim());
  expect(rows).toEqual([...new Set(STAGES.map((s) => s.name)), "record"]);
});

it("the README's usage example runs and does what its comments say", async () => {
  const lines = await runExample("example", readmeExample("## Use"));
  expect(lines[0]).toEqual(["ch_1", true]);
  expect(lines[1]![0]).toBe("invalid_input");
  expect(String(lines[1]![1])).toContain("`cents`");
});

it("the README's sources-of-truth example rejects the answer built on the FAQ", async () => {
  const lines = await runExample("trust-example", readmeExample("## Sources of truth, decisions and handoff"));
  expect(lines[0]).toEqual(["policy page"]);
  expect(lines[1]![0]).toBe("rejected");
  expect(String(lines[1]![1])).toContain("policy page");
});

it("the README's booking agent: a violation refused, a missing fact asked for, an approval with the rule's reason, escalation on a halted run", async () => {
  const lines = await runExample("rules-example", readmeExample("## Rules at the boundary"));
  expect(String(lines[0]![0])).toMatch(/^policy_violation: .*Read the reservation first \(get_reservation with id ABC123\), then call change_flight again\./);
  expect(String(lines[1]![0])).toMatch(/^policy_violation: .*basicEconomyCannotChange.*basic economy reservations cannot be changed.*will not help/);
  expect(String(lines[2]![0])).toMatch(/^approval_required: cancel_reservation needs a person's approval before it runs \(booked more than 24 hours ago: a refund needs a supervisor\)/);
  expect(lines[3]).toEqual(["booked more than 24 hours ago: a refund needs a supervisor"]);
  expect(lines[4]).toEqual(["halted", "ok"]);
  expect(lines[5]).toEqual(['the agent called transfer_to_human_agents: {"summary":"wants to change a basic economy booking"}']);
});

it("the README's durable-runs example: each turn a new runtime, and the conversation's budget of 3 holds across them", async () => {
  const code = readmeExample("## Durable runs");
  const store = '"sqlite:.bulwark/bulwark.db"';
  expect(code).toContain(store);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-readme-durable-"));
  try {
    const lines = await runExample("durable-example", code.replace(store, JSON.stringify(`sqlite:${join(dir, "bulwark.db")}`)));
    expect(lines).toEqual([["dropped"], ["dropped"], ["dropped"], ["destructive_budget_exceeded"]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
