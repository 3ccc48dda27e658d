/**
 * Seeded randomness for the chaos suite: mulberry32, a 32-bit generator that is small,
 * fast and good enough for fault injection. The same seed gives the same run, so an
 * incident found at seed 4711 can be replayed at seed 4711.
 */

export interface Random {
  /** A float in [0, 1). */
  (): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** A whole number in [min, max]. */
  int(min: number, max: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** An independent generator derived from this one (for a sub-system). */
  fork(): Random;
}

/** A seeded generator (mulberry32). */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = next as Random;
  r.chance = (p) => next() < p;
  r.int = (min, max) => min + Math.floor(next() * (max - min + 1));
  r.pick = <T>(items: readonly T[]) => {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[Math.floor(next() * items.length)]!;
  };
  r.fork = () => seeded(Math.floor(next() * 4294967296));
  return r;
}

/** A seed for run `index` of a suite started with `seed`: runs differ, suites repeat. */
export function seedFor(seed: number, index: number, salt = ""): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  const text = `${index}:${salt}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
