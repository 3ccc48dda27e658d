import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokens, parseTokens, TokenCheck } from "./auth.js";

const T1 = "a".repeat(32);
const T2 = "0123456789abcdef0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "bulwark-auth-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseTokens", () => {
  it("reads name:role:token entries, by line or comma, with comments", () => {
    expect(parseTokens(`# operators\nada:decide:${T1}\n\nci:read:${T2}  # the pipeline\n`, "f")).toEqual([
      { name: "ada", role: "decide", token: T1 },
      { name: "ci", role: "read", token: T2 },
    ]);
    expect(parseTokens(`ada:decide:${T1},ci:read:${T2}`, "env")).toHaveLength(2);
  });

  it.each([
    [`ada:${T1}`, /role must be read or decide/],
    [`ada:admin:${T1}`, /role must be read or decide, not "admin"/],
    ["ada:decide:hunter2", /24 to 512 characters.*openssl rand -hex 32/],
    [`:decide:${T1}`, /expected name:role:token/],
    [`ada:decide:${T1}\nada:read:${T2}`, /the name ada is given twice/],
    [`ada:decide:${T1}\nbob:read:${T1}`, /already ada's/],
  ])("refuses %j", (text, error) => {
    expect(() => parseTokens(text, "BULWARK_TOKENS")).toThrow(error);
  });

  it("never puts a token in an error message", () => {
    const secret = "s3cr3t-but-far-too-short";
    try {
      parseTokens(`ada:root:${secret}0123456789`, "env");
    } catch (e) {
      expect(String(e)).not.toContain(secret);
    }
  });
});

describe("loadTokens", () => {
  it("from the file when given, else from BULWARK_TOKENS, else none; warns of a file others can read", () => {
    const file = join(dir, "tokens");
    writeFileSync(file, `ada:decide:${T1}\n`);
    chmodSync(file, 0o644);
    const warnings: string[] = [];
    expect(loadTokens({ file, env: { BULWARK_TOKENS: `ci:read:${T2}` }, warn: (m) => warnings.push(m) })).toEqual([{ name: "ada", role: "decide", token: T1 }]);
    expect(warnings).toEqual([expect.stringMatching(/chmod 600/)]);
    chmodSync(file, 0o600);
    loadTokens({ file, warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(loadTokens({ env: { BULWARK_TOKENS: `ci:read:${T2}` } })).toEqual([{ name: "ci", role: "read", token: T2 }]);
    expect(loadTokens({ env: { BULWARK_TOKENS: " " } })).toEqual([]);
    expect(loadTokens({ env: {} })).toEqual([]);
    expect(() => loadTokens({ file: join(dir, "missing") })).toThrow(/cannot read the tokens file/);
    writeFileSync(join(dir, "empty"), "# nothing\n");
    expect(() => loadTokens({ file: join(dir, "empty") })).toThrow(/has no tokens/);
  });
});

describe("TokenCheck", () => {
  it("knows a bearer token's holder, and nothing else", () => {
    const check = new TokenCheck(parseTokens(`ada:decide:${T1},ci:read:${T2}`, "env"));
    expect(check.who(`Bearer ${T1}`)).toEqual({ name: "ada", role: "decide" });
    expect(check.who(`bearer ${T2}`)).toEqual({ name: "ci", role: "read" });
    for (const h of [undefined, "", T1, `Basic ${T1}`, `Bearer ${T1}x`, `Bearer ${T1.slice(1)}`, "Bearer "]) expect(check.who(h)).toBeUndefined();
  });
});
