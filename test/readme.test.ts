/**
 * The README is the manual: its usage example must run and print what it says.
 */
import { expect, it } from "vitest";
import { readmeExample, runExample } from "./fixtures/readme.js";

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
