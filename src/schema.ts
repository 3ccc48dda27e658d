/**
 * Standard Schema validation (zod, valibot, arktype… all speak it), with the issues turned
 * into sentences a model can act on: which field, and what is wrong with it.
 */
import type { StandardSchemaV1 } from "./standard-schema.js";
import { describeThrown } from "./failure.js";

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export function validate<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Validated<T> | Promise<Validated<T>> {
  let result: StandardSchemaV1.Result<T> | Promise<StandardSchemaV1.Result<T>>;
  try {
    result = schema["~standard"].validate(value);
  } catch (e) {
    return { ok: false, problems: [`the schema itself failed: ${describeThrown(e)}`] };
  }
  return result instanceof Promise ? result.then(toValidated, (e) => toValidated({ issues: [{ message: `the schema itself failed: ${describeThrown(e)}` }] })) : toValidated(result);
}

function toValidated<T>(r: StandardSchemaV1.Result<T>): Validated<T> {
  if (!r.issues) return { ok: true, value: r.value };
  return { ok: false, problems: r.issues.slice(0, 10).map(describeIssue) };
}

function describeIssue(issue: StandardSchemaV1.Issue): string {
  const path = (issue.path ?? []).map((s) => (typeof s === "object" && s !== null ? s.key : s));
  if (path.length === 0) return issue.message;
  const where = path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), "");
  return `\`${where}\`: ${issue.message}`;
}
