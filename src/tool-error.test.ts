import { describe, expect, it } from "vitest";
import { ToolError } from "./tool-error.js";
import { ToolError as publicToolError } from "./index.js";

describe("ToolError", () => {
  it("by default says the call failed without effect and may be retried", () => {
    const e = new ToolError("upstream 503");
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.message, e.retryable, e.effectUnknown, e.retryAfterMs, "cause" in e]).toEqual(["ToolError", "upstream 503", true, false, undefined, false]);
  });

  it("carries what the tool says: not retryable, a delay, an effect that may have landed, a cause", () => {
    const cause = new Error("socket hang up");
    const e = new ToolError("rate limited", { retryable: false, retryAfterMs: 1500, effectUnknown: true, cause });
    expect([e.retryable, e.retryAfterMs, e.effectUnknown, e.cause]).toEqual([false, 1500, true, cause]);
  });

  it("is the class the package exports (instanceof holds across the public entry)", () => {
    expect(publicToolError).toBe(ToolError);
  });
});
