/**
 * `bench:compare` end to end on a fake bench, in a throwaway git repository of two
 * commits: the current bench script is what runs in both, the figures are each
 * revision's own, and no worktree is left behind.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";

const project = fileURLToPath(new URL("..", import.meta.url));
let repo: string;
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
const compare = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "bench/compare.ts", ...args], { cwd: repo, encoding: "utf8", timeout: 30_000 });

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), "bulwark-compare-test-"));
  mkdirSync(join(repo, "bench"));
  for (const f of ["compare.ts", "comparison.ts", "report.ts", "goals.ts"]) copyFileSync(join(project, "bench", f), join(repo, "bench", f));
  copyFileSync(join(project, "package-lock.json"), join(repo, "package-lock.json"));
  symlinkSync(join(project, "node_modules"), join(repo, "node_modules"), "dir");
  writeFileSync(join(repo, ".gitignore"), "node_modules\n");
  writeFileSync(join(repo, "package.json"), '{ "type": "module" }\n');
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bench@example.com");
  git("config", "user.name", "bench");
  // The old revision: slow, and a bench script that reports nothing (it must not be the one run).
  writeFileSync(join(repo, "speed.txt"), "100\n");
  writeFileSync(join(repo, "bench", "runs.ts"), 'console.log("old script");\n');
  git("add", "-A");
  git("commit", "-q", "-m", "old");
  writeFileSync(join(repo, "speed.txt"), "150\n");
  writeFileSync(
    join(repo, "bench", "runs.ts"),
    `import { readFileSync } from "node:fs";
import { printReport } from "./report.js";
const speed = Number(readFileSync("speed.txt", "utf8"));
console.log("some progress output");
printReport({ bench: "runs", rows: [{ case: "fake read", value: speed, unit: "calls/s" }, { case: "fake latency", value: 1000 / speed, unit: "us/call" }] });
`,
  );
  git("add", "-A");
  git("commit", "-q", "-m", "new");
});

afterAll(() => rmSync(repo, { recursive: true, force: true }));

it("runs the current bench on both revisions, alternating, and prints medians and B/A", () => {
  const r = compare("main~1", "main", "--rounds", "2");
  expect(r.stderr).toMatch(/round 1\/2 A[\s\S]*round 1\/2 B[\s\S]*round 2\/2 A[\s\S]*round 2\/2 B/);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/fake read\s+calls\/s\s+100\s+150\s+1\.500x\s+higher\s+B better/);
  const json = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  expect(json.cases).toMatchObject([
    { case: "fake read", a: { values: [100, 100] }, b: { values: [150, 150] }, ratio: 1.5, verdict: "B better" },
    { case: "fake latency", better: "lower", verdict: "B better" },
  ]);
  expect(git("worktree", "list").split("\n")).toHaveLength(1);
}, 30_000);

it("names an unknown revision, and leaves nothing behind", () => {
  const r = compare("main", "no-such-rev");
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('unknown revision "no-such-rev"');
  expect(git("worktree", "list").split("\n")).toHaveLength(1);
});
