/**
 * JSON Schema as a Standard Schema: `jsonSchema(schema)` makes the schemas that MCP and
 * OpenAI-style tools come with usable wherever Bulwark takes a schema (`input`, `output`).
 * Validated with Ajv: draft 2020-12 when the schema's `$schema` says so (or 2019-09),
 * draft-07 otherwise; formats (date-time, email, uri…) through ajv-formats.
 *
 * Validation never changes the value: no defaults filled in, no coercion, no properties
 * removed, and the value that passes is the very object given, keys in their order. A
 * schema that does not compile is a TypeError from `jsonSchema` itself, not at the first
 * call. Ajv and ajv-formats are optional peers (`npm install ajv ajv-formats`), loaded on
 * first use; the MCP SDK brings them already.
 */
import { requirePeer } from "./optional.js";
import type { StandardSchemaV1 } from "./standard-schema.js";

type Validate = ((value: unknown) => boolean) & { errors?: AjvError[] | null };
interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
interface Ajv {
  compile(schema: object): Validate;
  removeSchema(id: string): void;
}
type AjvClass = new (options: Record<string, unknown>) => Ajv;

const validators = new Map<string, Ajv>();

/** One Ajv per draft, made on first use. */
function ajvFor(draft: "2020" | "2019" | "07"): Ajv {
  let ajv = validators.get(draft);
  if (!ajv) {
    const mod = requirePeer<{ default: AjvClass }>(draft === "2020" ? "ajv/dist/2020" : draft === "2019" ? "ajv/dist/2019" : "ajv", "jsonSchema", "ajv ajv-formats");
    // strict: false: tools' schemas carry keywords of their own (x-…, examples) and should
    // still validate; nothing that changes the data (useDefaults, coerceTypes,
    // removeAdditional) is turned on.
    ajv = new mod.default({ allErrors: true, strict: false, validateFormats: true });
    requirePeer<{ default: (a: Ajv) => void }>("ajv-formats", "jsonSchema", "ajv ajv-formats").default(ajv);
    validators.set(draft, ajv);
  }
  return ajv;
}

function draftOf(schema: object): "2020" | "2019" | "07" {
  const declared = (schema as { $schema?: unknown }).$schema;
  if (typeof declared !== "string") return "07";
  if (declared.includes("2020-12")) return "2020";
  if (declared.includes("2019-09")) return "2019";
  return "07";
}

/** Most issues reported for one value. */
const MAX_ISSUES = 10;

export function jsonSchema<T = unknown>(schema: object | boolean): StandardSchemaV1<unknown, T> {
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema)))
    throw new TypeError(`jsonSchema: expected a JSON Schema (an object or a boolean), got ${schema === null ? "null" : Array.isArray(schema) ? "an array" : typeof schema}`);
  const body = typeof schema === "boolean" ? { allOf: [schema] } : schema;
  // Outside the try: a missing Ajv is a MissingPackageError, not a schema that does not compile.
  const ajv = ajvFor(draftOf(body));
  let validate: Validate;
  try {
    // The same $id again (a tool defined twice, a server's tools sharing one): the newer wins.
    const id = (body as { $id?: unknown }).$id;
    if (typeof id === "string") ajv.removeSchema(id);
    validate = ajv.compile(body);
  } catch (e) {
    throw new TypeError(`jsonSchema: the schema does not compile: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    "~standard": {
      version: 1,
      vendor: "bulwark-json-schema",
      validate: (value) => (validate(value) ? { value: value as T } : { issues: (validate.errors ?? []).slice(0, MAX_ISSUES).map(issueOf) }),
    },
  };
}

/** An Ajv error as an issue: the path of the value at fault, and what is wrong with it. */
function issueOf(e: AjvError): StandardSchemaV1.Issue {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let message = e.message ?? `fails ${e.keyword}`;
  if (e.keyword === "required") {
    path.push(String(e.params.missingProperty));
    message = "required";
  } else if (e.keyword === "additionalProperties") {
    path.push(String(e.params.additionalProperty));
    message = "is not allowed here";
  }
  return path.length ? { message, path } : { message };
}
