/**
 * Semantic drift of texts (tool outputs, decision texts) without any external model: each
 * text becomes a profile of its character 3-grams hashed into a fixed number of buckets,
 * texts are summed into blocks, and a block is compared with the baseline by the
 * Jensen-Shannon divergence. What divergence is "a lot" depends on the texts, so the
 * threshold is calibrated on the baseline itself: each baseline block against the rest
 * (leave one out) gives the divergence that chance alone produces for a block of that
 * size; a block above the largest of those by a margin is drift.
 *
 * Hashed n-grams see vocabulary and phrasing, not meaning: "approved" → "declined"
 * shifts them, a paraphrase with the same words does not. That is the trade for needing
 * no embedding service.
 */

/** Buckets of a profile: 3-grams hashed into this many counters. */
export const BUCKETS = 256;

export interface SemanticOptions {
  /** Texts per block (the window compared with the baseline) [50]. */
  block: number;
  /** Blocks that make the baseline [8]. */
  baselineBlocks: number;
  /**
   * Drift when the divergence exceeds the largest leave-one-out divergence times this [3].
   * Measured (bench/drift.ts): 1.5 alarmed falsely on 2.3% of checks, 3 on 0.017%.
   */
  margin: number;
  /** Characters of a text that are profiled [2000]. */
  maxChars: number;
}

export const semanticDefaults: SemanticOptions = { block: 50, baselineBlocks: 8, margin: 3, maxChars: 2000 };

export interface SemanticState {
  /** Profiles of the baseline's blocks (sums of their texts' profiles). */
  baseline: number[][];
  /** The block being filled. */
  current: number[];
  currentN: number;
  observed: number;
  /** Set once the baseline is complete. */
  threshold?: number;
  drifting: boolean;
  last?: SemanticCheck;
}

export interface SemanticCheck {
  observed: number;
  /** Jensen-Shannon divergence (base 2, 0…1) of the latest block against the baseline. */
  divergence: number;
  threshold: number;
}

export const newSemanticState = (): SemanticState => ({ baseline: [], current: new Array<number>(BUCKETS).fill(0), currentN: 0, observed: 0, drifting: false });

/**
 * Add a text's 3-grams to `into` (FNV-1a of the three UTF-16 units, folded into BUCKETS).
 * Case, runs of white space and the value of digits are left out: ids, amounts and dates
 * that grow with time would otherwise read as drift.
 */
export function addProfile(into: number[], text: string, maxChars: number): void {
  const t = ` ${text.slice(0, maxChars).toLowerCase().replace(/\s+/g, " ").replace(/\d/g, "0")} `;
  for (let i = 0; i + 3 <= t.length; i++) {
    let h = 0x811c9dc5;
    for (let j = i; j < i + 3; j++) h = Math.imul(h ^ t.charCodeAt(j), 0x01000193);
    into[(h >>> 0) % BUCKETS]!++;
  }
}

/** Jensen-Shannon divergence of two count vectors, base 2 (0 = same distribution, 1 = disjoint). */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  if (sp === 0 || sq === 0) return 0;
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]! / sp;
    const b = q[i]! / sq;
    const m = (a + b) / 2;
    if (a > 0) d += a * Math.log2(a / m);
    if (b > 0) d += b * Math.log2(b / m);
  }
  return Math.max(0, d / 2);
}

const sum = (blocks: readonly number[][], skip = -1) => {
  const out = new Array<number>(BUCKETS).fill(0);
  blocks.forEach((b, i) => {
    if (i !== skip) for (let k = 0; k < BUCKETS; k++) out[k]! += b[k]!;
  });
  return out;
};

/** The threshold: the largest divergence of a baseline block from the others, times the margin. */
export function calibrate(blocks: readonly number[][], margin: number): number {
  let worst = 0;
  for (let i = 0; i < blocks.length; i++) worst = Math.max(worst, jensenShannon(blocks[i]!, sum(blocks, i)));
  return worst * margin;
}

/** Add one text to `state` (in place); returns the comparison when a block was completed after the baseline. */
export function observeText(state: SemanticState, text: string, o: SemanticOptions): SemanticCheck | undefined {
  state.observed++;
  addProfile(state.current, text, o.maxChars);
  if (++state.currentN < o.block) return undefined;
  const block = state.current;
  state.current = new Array<number>(BUCKETS).fill(0);
  state.currentN = 0;
  if (state.threshold === undefined) {
    state.baseline.push(block);
    if (state.baseline.length === o.baselineBlocks) state.threshold = calibrate(state.baseline, o.margin);
    return undefined;
  }
  const check = { observed: state.observed, divergence: jensenShannon(block, sum(state.baseline)), threshold: state.threshold };
  state.last = check;
  state.drifting = check.divergence > check.threshold;
  return check;
}
