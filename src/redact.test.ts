import { describe, expect, it } from "vitest";
import { isSecretName, REDACTED, redactArgs, redactError, redactText, redactValue } from "./redact.js";

describe("secret names", () => {
  it.each(["password", "db_password", "dbPassword", "passwd", "secret", "clientSecret", "token", "access_token", "refreshToken", "apiKey", "api_key", "X-Api-Key", "Authorization", "auth", "cookie", "credentials", "private_key", "aws.secretKey", "sessionId"])(
    "%s is a secret",
    (name) => expect(isSecretName(name)).toBe(true),
  );
  it.each(["author", "authority", "max_tokens", "tokens", "keyword", "key", "username", "passage", "compass", "description", "tokenizer", "secretary"])(
    "%s is not",
    (name) => expect(isSecretName(name)).toBe(false),
  );
});

describe("redactValue", () => {
  it("replaces secret-named values at any depth and keeps everything else, without touching the input", () => {
    const args = { user: "ada", password: "hunter2", nested: { headers: { Authorization: "whatever", accept: "json" } }, list: [{ apiKey: 42 }, { ok: true }], remember: true, token: null };
    const before = structuredClone(args);
    expect(redactValue(args)).toEqual({ user: "ada", password: REDACTED, nested: { headers: { Authorization: REDACTED, accept: "json" } }, list: [{ apiKey: REDACTED }, { ok: true }], remember: true, token: null });
    expect(args).toEqual(before);
  });

  it("cuts credential-shaped text under any name", () => {
    const r = redactValue({
      note: "use Bearer abcdefghijklmnop123 please",
      key: "sk-proj-abcdefghijklmnopqrstuvwx",
      gh: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      aws: "AKIAABCDEFGHIJKLMNOP",
      jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      url: "postgres://app:s3cret@db.internal:5432/prod",
      query: "https://api.example.com/v1?api_key=abc123def&page=2",
    }) as Record<string, string>;
    expect(r.note).toBe(`use Bearer ${REDACTED} please`);
    expect(r.key).toBe(REDACTED);
    expect(r.gh).toBe(REDACTED);
    expect(r.aws).toBe(REDACTED);
    expect(r.jwt).toBe(REDACTED);
    expect(r.url).toBe(`postgres://app:${REDACTED}@db.internal:5432/prod`);
    expect(r.query).toBe(`https://api.example.com/v1?api_key=${REDACTED}&page=2`);
    expect(JSON.stringify(r)).not.toMatch(/abcdefghijklmnop123|s3cret|abc123def|dozjg/);
  });

  it("leaves ordinary values alone and returns the same object when nothing is secret", () => {
    const args = { order: "ord_123", cents: 1500, to: "https://example.com/hook", text: "basic plan, token budget spent" };
    expect(redactValue(args)).toBe(args);
  });

  it("renders instances as JSON does (a URL with a password is cut), and survives cycles and depth", () => {
    expect(redactValue({ to: new URL("https://u:pw12345@example.com/") })).toEqual({ to: `https://u:${REDACTED}@example.com/` });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(redactValue(cyclic)).toEqual({ a: 1, self: "[circular]" });
    let deep: unknown = { password: "x" };
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    expect(JSON.stringify(redactValue(deep))).toContain("nested deeper than");
  });
});

describe("redactArgs with a tool's hook", () => {
  it("runs the hook, then the defaults (a hook cannot switch them off)", () => {
    const hook = (a: { card: string; password: string }) => ({ ...a, card: `****${a.card.slice(-4)}` });
    expect(redactArgs({ card: "4242424242424242", password: "pw" }, hook)).toEqual({ card: "****4242", password: REDACTED });
  });

  it("a hook that throws loses the arguments, not the secret", () => {
    const shown = redactArgs({ password: "pw" }, () => {
      throw new Error("bug");
    });
    expect(shown).toMatch(/redact hook failed/);
  });
});

describe("redactText and redactError", () => {
  it("cuts passwords, tokens and keys out of error text", () => {
    expect(redactText("connect to postgres://bulwark:topsecret@10.0.0.1/db failed")).toBe(`connect to postgres://bulwark:${REDACTED}@10.0.0.1/db failed`);
    expect(redactText('401 {"error":"bad token","token":"tok_abcdef123456"}')).toBe(`401 {"error":"bad token","token":"${REDACTED}"}`);
    expect(redactText("at postgres://bw:p@ss:w@rd@db:5432/x?sslmode=require")).toBe(`at postgres://bw:${REDACTED}@db:5432/x?sslmode=require`);
    expect(redactText("sqlite:.bulwark/bulwark.db and https://example.com:8443/a")).toBe("sqlite:.bulwark/bulwark.db and https://example.com:8443/a");
    expect(redactText("password=hunter2 rejected")).toBe(`password=${REDACTED} rejected`);
    expect(redactText("Authorization: Bearer abc.def.ghi-123456")).not.toContain("abc.def.ghi-123456");
    expect(redactText("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----")).toBe(REDACTED);
    expect(redactText("timed out after 5000ms")).toBe("timed out after 5000ms");
  });

  it("cuts the call's own secret values wherever the tool's error repeats them", () => {
    expect(redactError("login failed for user ada with hunter2!", { user: "ada", password: "hunter2" })).toBe(`login failed for user ada with ${REDACTED}!`);
    expect(redactError("login failed", { login: { pin: 1, pass: "x" } })).toBe("login failed");
  });
});
