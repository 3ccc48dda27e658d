import { describe, expect, it } from "vitest";
import { importPeer, MissingPackageError, requirePeer } from "./optional.js";

describe("optional peers", () => {
  it("a missing CommonJS peer names the package and how to install it", () => {
    const e = (() => {
      try {
        requirePeer("bulwark-no-such-package", "The frobnicator", "bulwark-no-such-package@2");
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(MissingPackageError);
    expect((e as MissingPackageError).packageName).toBe("bulwark-no-such-package");
    expect((e as Error).message).toBe('The frobnicator needs the package "bulwark-no-such-package", which is not installed: npm install bulwark-no-such-package@2');
  });

  it("a missing ES module peer is the same error", async () => {
    await expect(importPeer("bulwark-no-such-package", "The widget")).rejects.toThrow(/The widget needs the package "bulwark-no-such-package".*npm install bulwark-no-such-package$/);
  });

  it("an installed peer loads, and an error inside one is not mistaken for its absence", async () => {
    expect(typeof requirePeer<typeof import("pg")>("pg", "x").Pool).toBe("function");
    expect((await importPeer<typeof import("zod")>("zod", "x")).z).toBeDefined();
    // A package that is there but whose own import fails is reported as what it is.
    expect(() => requirePeer("node:no-such-builtin", "x")).toThrow(/no-such-builtin/);
    expect(() => requirePeer("node:no-such-builtin", "x")).not.toThrow(MissingPackageError);
  });
});
