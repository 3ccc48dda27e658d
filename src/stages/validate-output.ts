/**
 * Validate out: a response must be representable as JSON, match the output schema, and
 * pass the tool's semantic `check`. A malformed or implausible response dies here; it
 * does not travel three hops into the agent's next decision.
 */
import { assertJson, NotJsonError } from "../canonical-json.js";
import { describeThrown, failures } from "../failure.js";
import { validate } from "../schema.js";
import type { Call, StageResult } from "../call.js";
import type { Eventually } from "../eventually.js";

export function validateOutput(call: Call): Eventually<StageResult> {
  const { tool } = call;
  if (call.output !== undefined) {
    try {
      // Checked for every tool: a response that JSON cannot carry cannot reach the model
      // intact, nor be recorded for a replay.
      assertJson(call.output);
    } catch (e) {
      if (e instanceof NotJsonError) return failures.invalidOutput(tool.name, [e.message]);
      throw e;
    }
  }
  return tool.spec.output ? parsed(call, tool.spec.output) : checked(call);
}

async function parsed(call: Call, schema: NonNullable<Call["tool"]["spec"]["output"]>): Promise<StageResult> {
  const r = await validate(schema, call.output);
  if (!r.ok) return failures.invalidOutput(call.tool.name, r.problems);
  call.output = r.value;
  return checked(call);
}

/** The tool's semantic check of its (parsed) response. */
function checked(call: Call): StageResult {
  const { tool } = call;
  if (tool.spec.check) {
    let reason: string | undefined;
    try {
      reason = tool.spec.check(call.output, call.args);
    } catch (e) {
      reason = `the check itself failed: ${describeThrown(e)}`;
    }
    if (reason) return failures.implausibleOutput(tool.name, reason);
  }
  return undefined;
}
