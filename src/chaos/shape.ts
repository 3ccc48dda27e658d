/**
 * A tiny Standard Schema for the flat records the scenarios' tools return, so the chaos
 * suite needs no schema library at run time: `shape({ price: "number", sku: "string" })`.
 */
import type { StandardSchemaV1 } from "../standard-schema.js";

type Kind = "string" | "number" | "boolean";
type TypeOf<K extends Kind> = K extends "string" ? string : K extends "number" ? number : boolean;

export function shape<S extends Record<string, Kind>>(fields: S): StandardSchemaV1<unknown, { [K in keyof S]: TypeOf<S[K]> }> {
  return {
    "~standard": {
      version: 1,
      vendor: "bulwark-chaos",
      validate(value) {
        if (typeof value !== "object" || value === null || Array.isArray(value))
          return { issues: [{ message: `expected an object, got ${Array.isArray(value) ? "an array" : typeof value}` }] };
        const issues: StandardSchemaV1.Issue[] = [];
        for (const [key, kind] of Object.entries(fields)) {
          const v = (value as Record<string, unknown>)[key];
          if (typeof v !== kind || (kind === "number" && !Number.isFinite(v)))
            issues.push({ message: `expected a ${kind}, got ${v === undefined ? "nothing" : JSON.stringify(v)}`, path: [key] });
        }
        return issues.length > 0 ? { issues } : { value: value as never };
      },
    },
  };
}
