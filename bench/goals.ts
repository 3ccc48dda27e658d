/**
 * The cost goals that the benches measure against: each goal is a ratio of two figures
 * measured in the same run, a target, and whether the ratio meets it. A bench that
 * measures a goal prints it at its end; a goal whose figures were not measured (e.g.
 * PostgreSQL unreachable) is printed as such, never as met.
 */

export interface Goal {
  name: string;
  /** What the ratio divides by what, in words: which way it is expressed. */
  ratio: string;
  /** The measured ratio, or undefined when its figures were not measured. */
  measured: number | undefined;
  /** "<=": the ratio must be at most the target; ">=": at least. */
  cmp: "<=" | ">=";
  target: number;
  met: boolean;
}

export function goal(name: string, ratio: string, measured: number | undefined, cmp: Goal["cmp"], target: number): Goal {
  const known = measured !== undefined && Number.isFinite(measured);
  const met = known && (cmp === "<=" ? measured <= target : measured >= target);
  return { name, ratio, measured: known ? measured : undefined, cmp, target, met };
}

export function formatGoals(goals: readonly Goal[]): string {
  const status = (g: Goal) => (g.measured === undefined ? "not measured" : g.met ? "met" : "NOT MET");
  const lines = goals.map(
    (g) =>
      `  ${status(g).padEnd(12)} ${g.name}: ${g.measured === undefined ? "-" : `${g.measured.toFixed(2)}x`} ` +
      `(target ${g.cmp === "<=" ? "≤" : "≥"} ${g.target}x; ${g.ratio})`,
  );
  return [`Goals (cost issue), ${goals.filter((g) => g.met).length} of ${goals.length} met:`, ...lines].join("\n");
}

export function printGoals(goals: readonly Goal[]) {
  console.log(`\n${formatGoals(goals)}`);
}
