import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defineTool } from "../../index.js";
import { bulwarkToolName } from "./names.js";

describe("bulwarkToolName", () => {
  it("keeps the names MCP servers use, and escapes the rest so that no two meet", () => {
    expect(bulwarkToolName("read_graph")).toBe("read_graph");
    expect(bulwarkToolName("files.read-v2")).toBe("files.read-v2");
    expect(bulwarkToolName("deploy/staging")).toBe("deploy:2f:staging");
    expect(bulwarkToolName("deploy staging")).toBe("deploy:20:staging");
    expect(bulwarkToolName("a:b")).toBe("a:3a:b");
    expect(bulwarkToolName("")).toBe(":");
    expect(bulwarkToolName("x", "memory.")).toBe("memory.x");
  });

  it("is one to one, and every result is a valid Bulwark name (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: "grapheme-composite" }), fc.string({ maxLength: 200, unit: "grapheme-composite" }), (a, b) => {
        fc.pre(a !== b);
        const [x, y] = [bulwarkToolName(a), bulwarkToolName(b)];
        expect(x).not.toBe(y);
        expect(() => defineTool({ name: x, effect: "read", execute: () => 1 })).not.toThrow();
      }),
    );
    // Long names that differ only past the cut keep apart through the digest.
    const long = "t".repeat(200);
    expect(bulwarkToolName(`${long}a`)).not.toBe(bulwarkToolName(`${long}b`));
    expect(bulwarkToolName(`${long}a`)).toHaveLength(128);
  });
});
