/**
 * Validate in: the arguments against the tool's input schema. A call with invalid
 * arguments is refused before anything else happens, with the fields that are wrong.
 * On success the call carries the parsed value (defaults, coercions) from here on.
 */
import { failures } from "../failure.js";
import { validate } from "../schema.js";
import type { Call, StageResult } from "../call.js";

export async function validateInput(call: Call): Promise<StageResult> {
  const schema = call.tool.spec.input;
  if (!schema) return undefined;
  const r = await validate(schema, call.args);
  if (!r.ok) return failures.invalidInput(call.tool.name, r.problems);
  call.args = r.value;
  return undefined;
}
