/**
 * How SQLite and PostgreSQL spell what the shared statements (records.ts, ../alerts-sql.ts)
 * leave open: a table's name and the i-th parameter.
 */

export interface Dialect {
  /** A table's name as a statement writes it. */
  T: (table: string) => string;
  /** The i-th parameter (from 1). */
  p: (i: number) => string;
}

export const dialect = {
  /** Named parameters p1, p2…, bound from an object (`params`): a parameter may appear twice. */
  sqlite: { T: (t) => t, p: (i) => `@p${i}` } satisfies Dialect,
  /** `$i`, bound from an array, each table in the store's schema (already quoted). */
  postgres: (schema: string): Dialect => ({ T: (t) => `${schema}.${t}`, p: (i) => `$${i}` }),
};

const NAMES = Array.from({ length: 16 }, (_, i) => `p${i + 1}`);

/**
 * SQLite's parameters for a statement of `dialect.sqlite`: the i-th value is p<i>. On every
 * write, so a plain loop over names made once (Object.fromEntries over a map costs a run
 * commit about 2 µs more; measured with better-sqlite3).
 */
export function params(...values: unknown[]): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  for (let i = 0; i < values.length; i++) named[NAMES[i] ?? `p${i + 1}`] = values[i];
  return named;
}

/** A limit large enough to mean "none" (both databases take a number). */
export const NO_LIMIT = 1_000_000_000;
