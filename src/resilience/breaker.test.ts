import { describe, expect, it } from "vitest";
import { Breaker, type BreakerTransition } from "./breaker.js";

const options = { windowSize: 4, failureRate: 0.5, minCalls: 3, halfOpenAfterMs: 1_000 };

describe("Breaker", () => {
  it("stays closed below minCalls, whatever the failures", () => {
    const b = new Breaker(options);
    b.onFailure(0, "x");
    b.onFailure(0, "x");
    expect(b.state).toBe("closed");
    expect(b.check(0)).toEqual({ allowed: true, probe: false });
  });

  it("opens at the failure rate over the window and refuses with what it saw", () => {
    const seen: BreakerTransition[] = [];
    const b = new Breaker(options, (t) => seen.push(t));
    b.onSuccess(0);
    b.onFailure(1, "503");
    expect(b.state).toBe("closed"); // 1 of 2, below minCalls
    b.onFailure(2, "503");
    expect(b.state).toBe("open"); // 2 of 3
    expect(seen).toEqual([{ state: "open", at: 2, reason: "2 of the last 3 calls failed; last error: 503" }]);
    expect(b.check(500)).toEqual({ allowed: false, retryInMs: 502, failed: 2, of: 3, lastError: "503" });
  });

  it("forgets outcomes that slide out of the window", () => {
    const b = new Breaker({ ...options, failureRate: 0.75 });
    b.onFailure(0);
    b.onFailure(0);
    b.onSuccess(0);
    b.onSuccess(0); // window: F F S S = 50%
    b.onFailure(0); // the oldest F slides out: F S S F = 50%
    b.onFailure(0); // S S F F = 50%
    expect(b.state).toBe("closed");
    b.onFailure(0); // S F F F = 75%
    expect(b.state).toBe("open");
  });

  it("lets one probe through after halfOpenAfterMs; success closes it", () => {
    const b = new Breaker(options);
    for (let i = 0; i < 3; i++) b.onFailure(0);
    expect(b.check(999).allowed).toBe(false);
    expect(b.check(1_000)).toEqual({ allowed: true, probe: true });
    expect(b.state).toBe("half_open");
    expect(b.check(1_001).allowed).toBe(false); // one probe at a time
    b.onSuccess(1_002);
    expect(b.state).toBe("closed");
    expect(b.check(1_003)).toEqual({ allowed: true, probe: false });
    // the window starts afresh: two failures are below minCalls again
    b.onFailure(1_004);
    b.onFailure(1_004);
    expect(b.state).toBe("closed");
  });

  it("peek says what check would, without taking the probe or moving the state", () => {
    const b = new Breaker(options);
    for (let i = 0; i < 3; i++) b.onFailure(0);
    expect(b.peek(500)).toMatchObject({ allowed: false, retryInMs: 500 });
    expect(b.peek(1_000)).toEqual({ allowed: true, probe: true });
    expect(b.state).toBe("open");
    expect(b.check(1_000)).toEqual({ allowed: true, probe: true });
    expect(b.peek(1_000).allowed).toBe(false); // the probe is out
  });

  it("a failed probe opens it again for another full period", () => {
    const b = new Breaker(options);
    for (let i = 0; i < 3; i++) b.onFailure(0);
    b.check(1_000);
    b.onFailure(1_500, "still down");
    expect(b.state).toBe("open");
    expect(b.check(2_499).allowed).toBe(false);
    expect(b.check(2_500).allowed).toBe(true);
  });

  it("an abandoned probe frees the slot for another", () => {
    const b = new Breaker(options);
    for (let i = 0; i < 3; i++) b.onFailure(0);
    expect(b.check(1_000).allowed).toBe(true);
    b.abandonProbe();
    expect(b.check(1_000).allowed).toBe(true);
  });

  it("adopts an open state published by another process", () => {
    const b = new Breaker(options);
    b.adopt("open", 100, "remote");
    expect(b.check(200)).toMatchObject({ allowed: false, retryInMs: 900, lastError: "remote" });
    b.adopt("closed", 150);
    expect(b.state).toBe("closed");
  });
});
