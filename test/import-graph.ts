/**
 * The import graph of src/ (tests left out), as the TypeScript compiler resolves it, and the
 * cycles in it. Every import counts: `import type`, `export … from`, `import("…")` calls and
 * `import("…")` types, since a cycle of types is still a knot in the design.
 *
 * Why a script of our own rather than madge or dependency-cruiser: both read TypeScript through
 * the classic compiler API of TypeScript ≤ 5 (madge through @typescript-eslint's parser and
 * filing-cabinet's resolver, dependency-cruiser through `ts.transpileModule`/`ts.createSourceFile`),
 * and the project is on TypeScript 7, whose package no longer has that API; a second,
 * older TypeScript only for them would resolve `.js`-suffixed imports and the tsconfig
 * `paths` by other rules than the compiler that builds the package. TypeScript 7's own API
 * (`typescript/unstable/sync`, the compiler as a child process) parses and resolves exactly as
 * `tsc` does, offline, in about a second.
 *
 * Run alone for a report: `npx tsx test/import-graph.ts`.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { API } from "typescript/unstable/sync";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** File (relative to the repository, `src/…`) → the project files it imports, in source order. */
export type ImportGraph = Map<string, string[]>;

/** The graph of tsconfig.build.json's program (src/ without its tests). */
export function importGraph(tsconfig = path.join(root, "tsconfig.build.json")): ImportGraph {
  const api = new API({ cwd: root });
  try {
    const project = api.updateSnapshot({ openProjects: [tsconfig] }).getProject(tsconfig);
    if (!project) throw new Error(`no project for ${tsconfig}`);
    const { program, checker } = project;
    const rel = (file: string) => path.relative(root, file).split(path.sep).join("/");
    const ours = (file: string) => {
      const r = rel(file);
      return r.startsWith("src/") && !r.includes("/node_modules/") && !r.endsWith(".d.ts") ? r : undefined;
    };
    const graph: ImportGraph = new Map();
    for (const file of program.getSourceFileNames()) {
      const from = ours(file);
      if (!from) continue;
      const sourceFile = program.getSourceFile(file);
      if (!sourceFile) throw new Error(`no source file for ${file}`);
      // `imports` is the compiler's own list of module specifiers in the file (declarations,
      // re-exports, import calls and import types); its symbol is the module it resolves to.
      const specifiers = [...sourceFile.imports];
      const modules = specifiers.length > 0 ? checker.getSymbolAtLocation(specifiers) : [];
      const targets: string[] = [];
      for (const module of modules) {
        for (const declaration of module?.declarations ?? []) {
          const to = ours(declaration.path);
          if (to && !targets.includes(to)) targets.push(to);
        }
      }
      graph.set(from, targets);
    }
    return graph;
  } finally {
    api.close();
  }
}

/**
 * Every cycle met by a depth-first walk (one per edge that leads back into the walk's own
 * path, as madge counts them), each as the chain of files from its first file back to it.
 * The graph has no cycle at all exactly when this is empty.
 */
export function cycles(graph: ImportGraph): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const onPath = new Map<string, number>();
  const pathNow: string[] = [];
  const walk = (file: string) => {
    onPath.set(file, pathNow.length);
    pathNow.push(file);
    for (const next of graph.get(file) ?? []) {
      const at = onPath.get(next);
      if (at !== undefined) found.push([...pathNow.slice(at), next]);
      else if (!done.has(next)) walk(next);
    }
    pathNow.pop();
    onPath.delete(file);
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) if (!done.has(file)) walk(file);
  return found;
}

/** The project files that `file` imports which are not in `allowed`. */
export function importsOutside(graph: ImportGraph, file: string, allowed: ReadonlySet<string>): string[] {
  const targets = graph.get(file);
  if (!targets) throw new Error(`${file} is not in the import graph`);
  return targets.filter((t) => !allowed.has(t));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = importGraph();
  const found = cycles(graph);
  console.log(`${graph.size} files, ${found.length} import cycles`);
  for (const [i, chain] of found.entries()) console.log(`${i + 1}. ${chain.join(" → ")}`);
}
