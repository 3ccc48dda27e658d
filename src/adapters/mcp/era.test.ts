import { describe, expect, it } from "vitest";
import { complete, discoverResult, envelopeOf, formElicitation, isStateless } from "./era.js";

const envelope = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
  "io.modelcontextprotocol/clientInfo": { name: "c", version: "1" },
};

describe("the stateless protocol's vocabulary (2026-07-28)", () => {
  it("a request is of the era by its envelope's revision; the envelope is its reserved keys only", () => {
    expect(envelopeOf({ _meta: { ...envelope, progressToken: 3, "bulwark/x": 1 } })).toEqual(envelope);
    expect(envelopeOf({ _meta: { ...envelope, "io.modelcontextprotocol/protocolVersion": "2027-01-01" } })).toBeUndefined();
    expect(envelopeOf({ _meta: { progressToken: 3 } })).toBeUndefined();
    expect([isStateless({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: envelope } }), isStateless({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} })]).toEqual([true, false]);
  });

  it("a server's offer is narrowed to the revisions the proxy relays; a result is complete unless it says otherwise", () => {
    expect(discoverResult({ supportedVersions: ["2027-01-01", "2026-07-28"], capabilities: {} })).toEqual({ supportedVersions: ["2026-07-28"], capabilities: {} });
    expect([complete({ content: [] }).resultType, complete({ resultType: "input_required" }).resultType]).toEqual(["complete", "input_required"]);
  });

  it("form elicitation: an empty capability means forms; url alone does not", () => {
    expect([formElicitation({ elicitation: {} }), formElicitation({ elicitation: { url: {} } }), formElicitation({ elicitation: { form: {}, url: {} } }), formElicitation({})]).toEqual([true, false, true, false]);
  });
});
