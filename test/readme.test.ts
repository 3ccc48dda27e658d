/**
 * The README is the manual: its usage example must run and print what it says.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it, vi } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

it("the README's usage example runs and does what its comments say", async () => {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const use = readme.slice(readme.indexOf("## Use"));
  const code = /```ts\n([\s\S]*?)```/.exec(use)?.[1];
  expect(code, "a ```ts block under ## Use").toBeDefined();
  mkdirSync(`${root}test/.readme`, { recursive: true });
  const file = `${root}test/.readme/example.ts`;
  writeFileSync(file, code!);
  const lines: unknown[][] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...args) => void lines.push(args));
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    log.mockRestore();
  }
  expect(lines[0]).toEqual(["ch_1", true]);
  expect(lines[1]![0]).toBe("invalid_input");
  expect(String(lines[1]![1])).toContain("`cents`");
});
