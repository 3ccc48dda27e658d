/**
 * Drift detection on a stream of categorical observations (an agent's decisions, a
 * tool's status codes): the first `baseline` observations set the reference
 * distribution, then a sliding window of the latest `window` observations is compared
 * with it every `checkEvery` observations by a chi-square test of homogeneity. When the
 * p-value falls below `alpha` an alert fires (once, until `reset`). The population
 * stability index (PSI) of the window against the baseline is reported alongside, for
 * dashboards.
 *
 * False alarms: each check is a test at level `alpha`; over C checks in a stream the
 * chance of any false alarm is at most C·alpha (less, as overlapping windows are
 * correlated). Detection delay: a shift is seen once enough of the window has moved.
 */

export interface DriftOptions {
  /** Observations that make the reference distribution [300]. */
  baseline: number;
  /** Size of the sliding window compared with it [200]. */
  window: number;
  /** Compare every this many observations, once the window is full [10]. */
  checkEvery: number;
  /** Significance level of each check [1e-4]. */
  alpha: number;
}

export interface DriftCheck {
  /** Observations seen so far. */
  observed: number;
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
  psi: number;
  baseline: Record<string, number>;
  window: Record<string, number>;
}

export interface DriftAlert extends DriftCheck {
  /** The observation count at which the alert fired. */
  at: number;
  message: string;
}

export const driftDefaults: DriftOptions = { baseline: 300, window: 200, checkEvery: 10, alpha: 1e-4 };

export function checkDriftOptions(options: Partial<DriftOptions> = {}): DriftOptions {
  const o = { ...driftDefaults, ...options };
  for (const k of ["baseline", "window", "checkEvery"] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`drift ${k} must be a whole number of at least 1, not ${o[k]}`);
  if (!(o.alpha > 0 && o.alpha < 1)) throw new RangeError(`drift alpha must be between 0 and 1, not ${o.alpha}`);
  return o;
}

/**
 * The state of one categorical drift watch, as plain JSON (the store keeps it, so that
 * every process feeds one watch and a restart keeps it).
 */
export interface CategoricalState {
  baseline: Record<string, number>;
  baselineN: number;
  /** The latest observations, oldest first, at most `window` of them. */
  recent: string[];
  observed: number;
  /** Whether the latest comparison found drift. */
  drifting: boolean;
  last?: DriftCheck;
}

export const newCategoricalState = (): CategoricalState => ({ baseline: {}, baselineN: 0, recent: [], observed: 0, drifting: false });

/**
 * Add one observation to `state` (in place). Returns the comparison when one was made:
 * once the baseline and the window are full, every `checkEvery` observations.
 */
export function observeCategorical(state: CategoricalState, category: string, o: DriftOptions): DriftCheck | undefined {
  state.observed++;
  if (state.baselineN < o.baseline) {
    state.baseline[category] = (state.baseline[category] ?? 0) + 1;
    state.baselineN++;
    return undefined;
  }
  state.recent.push(category);
  if (state.recent.length > o.window) state.recent.splice(0, state.recent.length - o.window);
  if (state.recent.length < o.window || (state.observed - o.baseline) % o.checkEvery !== 0) return undefined;
  const win: Record<string, number> = {};
  for (const c of state.recent) win[c] = (win[c] ?? 0) + 1;
  const check = { observed: state.observed, ...compareCounts(state.baseline, win), baseline: { ...state.baseline }, window: win };
  state.last = check;
  state.drifting = check.pValue < o.alpha;
  return check;
}

/**
 * Chi-square test of homogeneity of two samples of categories, with the population
 * stability index of the second against the first.
 */
export function compareCounts(reference: Record<string, number>, sample: Record<string, number>): Pick<DriftCheck, "chiSquare" | "degreesOfFreedom" | "pValue" | "psi"> {
  const categories = [...new Set([...Object.keys(reference), ...Object.keys(sample)])];
  const nRef = Object.values(reference).reduce((a, b) => a + b, 0);
  const nWin = Object.values(sample).reduce((a, b) => a + b, 0);
  const total = nRef + nWin;
  let chiSquare = 0;
  let psi = 0;
  for (const c of categories) {
    const a = reference[c] ?? 0;
    const b = sample[c] ?? 0;
    const column = a + b;
    const ea = (column * nRef) / total;
    const eb = (column * nWin) / total;
    chiSquare += (a - ea) ** 2 / ea + (b - eb) ** 2 / eb;
    // PSI with a small floor so that a category absent on one side stays finite.
    const pa = Math.max(a / nRef, 1e-4);
    const pb = Math.max(b / nWin, 1e-4);
    psi += (pb - pa) * Math.log(pb / pa);
  }
  const degreesOfFreedom = Math.max(1, categories.length - 1);
  return { chiSquare, degreesOfFreedom, pValue: categories.length < 2 ? 1 : chiSquareSurvival(chiSquare, degreesOfFreedom), psi };
}

/** One drift watch in memory (the runtime's monitors keep the same state in the store). */
export class DriftDetector {
  readonly options: DriftOptions;
  private state = newCategoricalState();
  private fired: DriftAlert | undefined;

  constructor(
    readonly name: string,
    options: Partial<DriftOptions> = {},
  ) {
    this.options = checkDriftOptions(options);
  }

  /** Record one observation; returns the alert if this observation made it fire. */
  observe(category: string): DriftAlert | undefined {
    const check = observeCategorical(this.state, category, this.options);
    if (!check || this.fired || !this.state.drifting) return undefined;
    this.fired = { ...check, at: check.observed, message: driftMessage(this.name, this.options.window, check) };
    return this.fired;
  }

  /** The alert, if one has fired. */
  get alert(): DriftAlert | undefined {
    return this.fired;
  }

  /** The latest comparison, if any. */
  get latest(): DriftCheck | undefined {
    return this.state.last;
  }

  /** Forget the alert and the window (after a person has looked); the baseline stays. */
  reset() {
    this.fired = undefined;
    this.state.recent.length = 0;
  }
}

export function driftMessage(name: string, window: number, check: DriftCheck): string {
  return `${name} drifted: the latest ${window} observations (${describe(check.window)}) differ from the baseline (${describe(check.baseline)}); chi-square ${check.chiSquare.toFixed(1)}, p ${check.pValue.toExponential(1)}, PSI ${check.psi.toFixed(2)}`;
}

function describe(counts: Record<string, number>): string {
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.entries(counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${Math.round((100 * v) / n)}%`)
    .join(", ");
}

/** P(X ≥ x) for X chi-square with `df` degrees of freedom: Q(df/2, x/2). */
export function chiSquareSurvival(x: number, df: number): number {
  if (x <= 0) return 1;
  return upperGammaRegularized(df / 2, x / 2);
}

/** Q(a, x), the regularized upper incomplete gamma function (Numerical Recipes, gser/gcf). */
function upperGammaRegularized(a: number, x: number): number {
  const lnPrefix = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPrefix));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lnPrefix) * h);
}

/** ln Γ(z) by the Lanczos approximation (g = 7, n = 9). */
function logGamma(z: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  z -= 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}
