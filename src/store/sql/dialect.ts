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

/** SQLite's parameters for a statement of `dialect.sqlite`: the i-th value is p<i>. */
export const params = (...values: unknown[]): Record<string, unknown> => Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]));

/** A limit large enough to mean "none" (both databases take a number). */
export const NO_LIMIT = 1_000_000_000;
