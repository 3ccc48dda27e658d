/**
 * The catalogue of incident scenarios, in the order the report shows them. A new
 * scenario is one file in this folder and one line here.
 */
import type { Scenario } from "../scenario.js";
import { brownout } from "./brownout.js";
import { codeFreeze } from "./code-freeze.js";
import { confidenceCollapse } from "./confidence-collapse.js";
import { contradictingLedgers } from "./contradicting-ledgers.js";
import { decisionDrift } from "./decision-drift.js";
import { paymentLostResponse } from "./payment-lost-response.js";
import { plausibleWrong } from "./plausible-wrong.js";
import { policyBreach } from "./policy-breach.js";
import { processCrash } from "./process-crash.js";
import { schemaDrift } from "./schema-drift.js";
import { silentWrite } from "./silent-write.js";
import { slowTool } from "./slow-tool.js";
import { staleFaq } from "./stale-faq.js";

export const scenarios: readonly Scenario[] = [
  paymentLostResponse,
  brownout,
  codeFreeze,
  silentWrite,
  staleFaq,
  schemaDrift,
  plausibleWrong,
  contradictingLedgers,
  confidenceCollapse,
  slowTool,
  decisionDrift,
  policyBreach,
  processCrash,
];

export {
  brownout,
  codeFreeze,
  confidenceCollapse,
  contradictingLedgers,
  decisionDrift,
  paymentLostResponse,
  plausibleWrong,
  policyBreach,
  processCrash,
  schemaDrift,
  silentWrite,
  slowTool,
  staleFaq,
};
