/**
 * Before/after on one machine: checks out two git revisions into temporary worktrees,
 * runs the CURRENT bench script (and the bench modules it imports) in each, alternately
 * A, B, A, B… so that the machine's drift falls on both alike, and prints per case the
 * median of A, the median of B and B/A, as a table and as one JSON line.
 *   npm run bench:compare -- <revA> <revB> [--bench runs|core|store] [--rounds 3] [-- <bench args>]
 * Worktrees live under the system's temporary folder and are removed at the end, on
 * failure and on Ctrl-C. node_modules is a link to this project's when a revision's
 * package-lock.json is the same as this one's; otherwise it is installed (npm ci).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCHES, compareReports, formatComparison, localImports, parseArgs, type BenchName } from "./comparison.js";
import { parseReport, type Report } from "./report.js";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Checkout {
  label: string;
  rev: string;
  commit: string;
  dir: string;
}

const git = (args: string[], cwd = root) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

function resolveRevision(rev: string): string {
  try {
    return git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]);
  } catch {
    throw new Error(`unknown revision "${rev}": not a commit in ${root}`);
  }
}

/** The revision's package-lock.json, or undefined when it has none. */
function lockAt(commit: string): string | undefined {
  try {
    return git(["show", `${commit}:package-lock.json`]);
  } catch {
    return undefined;
  }
}

let base: string | undefined;
const created: Checkout[] = [];
let running: ChildProcess | undefined;

function checkout(label: string, rev: string, commit: string): Checkout {
  base ??= mkdtempSync(join(tmpdir(), "bulwark-compare-"));
  const c = { label, rev, commit, dir: join(base, label) };
  git(["worktree", "add", "--detach", c.dir, commit]);
  created.push(c);
  const ours = existsSync(join(root, "package-lock.json")) ? readFileSync(join(root, "package-lock.json"), "utf8").trim() : undefined;
  if (ours !== undefined && lockAt(commit) === ours) {
    symlinkSync(join(root, "node_modules"), join(c.dir, "node_modules"), "dir");
  } else {
    process.stderr.write(`${label} (${rev}): package-lock.json differs from this checkout's: npm ci in ${c.dir}\n`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    execFileSync(npm, ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: c.dir, stdio: ["ignore", 2, 2] });
    execFileSync(npm, ["rebuild", "better-sqlite3"], { cwd: c.dir, stdio: ["ignore", 2, 2] });
  }
  return c;
}

/** Copies the current bench script, and the bench modules it imports, into the checkout. */
function copyBench(c: Checkout, bench: BenchName) {
  const pending = [BENCHES[bench].slice("bench/".length)];
  const done = new Set<string>();
  while (pending.length) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const from = join(root, "bench", file);
    copyFileSync(from, join(c.dir, "bench", file));
    pending.push(...localImports(readFileSync(from, "utf8")));
  }
}

/** Removes every worktree made so far; safe to call more than once, and from a signal. */
function cleanUp() {
  for (const c of created.splice(0)) {
    try {
      // A link to this project's node_modules: unlink it first, so that nothing can
      // remove what it points to. An installed node_modules goes with the worktree.
      const link = join(c.dir, "node_modules");
      if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(link);
      git(["worktree", "remove", "--force", c.dir]);
    } catch (e) {
      process.stderr.write(`could not remove the worktree ${c.dir}: ${(e as Error).message}\n`);
    }
  }
  if (base) rmSync(base, { recursive: true, force: true });
  base = undefined;
  try {
    git(["worktree", "prune"]);
  } catch {}
}

function runBench(c: Checkout, bench: BenchName, args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", BENCHES[bench], ...args], { cwd: c.dir, stdio: ["ignore", "pipe", "inherit"] });
    running = child;
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      running = undefined;
      const tail = out.trimEnd().split("\n").slice(-15).join("\n");
      if (code !== 0) return reject(new Error(`${bench} bench on ${c.label} (${c.rev}) exited with ${signal ?? code}; its last output:\n${tail}`));
      try {
        resolve(parseReport(out));
      } catch (e) {
        reject(new Error(`${bench} bench on ${c.label} (${c.rev}): ${(e as Error).message}; its last output:\n${tail}`));
      }
    });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const commitA = resolveRevision(args.revA);
  const commitB = resolveRevision(args.revB);
  const a = checkout("A", args.revA, commitA);
  const b = checkout("B", args.revB, commitB);
  for (const c of [a, b]) copyBench(c, args.bench);
  const reports: Record<"A" | "B", Report[]> = { A: [], B: [] };
  for (let round = 1; round <= args.rounds; round++)
    for (const c of [a, b]) {
      const started = Date.now();
      reports[c.label as "A" | "B"].push(await runBench(c, args.bench, args.benchArgs));
      process.stderr.write(`round ${round}/${args.rounds} ${c.label} (${c.rev}): ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  const cases = compareReports(reports.A, reports.B);
  const short = (c: Checkout) => `${c.rev} (${c.commit.slice(0, 10)})`;
  console.log(
    `\n${args.bench} bench, ${args.rounds} round(s) alternating A, B; medians per case. The verdict is by the medians alone:` +
      `\nfor the noise, see each run's values in the JSON line below, or compare a revision with itself.`,
  );
  console.log(formatComparison(cases, short(a), short(b)));
  console.log(
    JSON.stringify({
      bench: args.bench,
      rounds: args.rounds,
      benchArgs: args.benchArgs,
      a: { rev: a.rev, commit: a.commit },
      b: { rev: b.rev, commit: b.commit },
      cases,
    }),
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    running?.kill(signal);
    cleanUp();
    process.stderr.write(`bench:compare: ${signal}: stopped; its worktrees are removed\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  });

try {
  await main();
} catch (e) {
  process.stderr.write(`bench:compare: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  cleanUp();
}
