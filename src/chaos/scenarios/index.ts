/**
 * The catalogue of incident scenarios, in the order the report shows them. A new
 * scenario is one file in this folder and one line here.
 */
import type { Scenario } from "../scenario.js";
import { brownout } from "./brownout.js";
import { codeFreeze } from "./code-freeze.js";
import { decisionDrift } from "./decision-drift.js";
import { paymentLostResponse } from "./payment-lost-response.js";
import { schemaDrift } from "./schema-drift.js";
import { silentWrite } from "./silent-write.js";
import { slowTool } from "./slow-tool.js";

export const scenarios: readonly Scenario[] = [
  paymentLostResponse,
  brownout,
  codeFreeze,
  silentWrite,
  schemaDrift,
  slowTool,
  decisionDrift,
];

export { brownout, codeFreeze, decisionDrift, paymentLostResponse, schemaDrift, silentWrite, slowTool };
