import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
  sleep,
  withRetries,
} from "../../src/api/retry.ts";
import { fakeClock } from "../support/clock.ts";

const policy = { baseDelayMs: 500, maxDelayMs: 10_000, budgetMs: 25_000 };

describe("isRetryableStatus", () => {
  it("retries 408, 429 and every 5xx", () => {
    expect([408, 429, 500, 502, 503, 504, 599].map(isRetryableStatus)).toEqual(Array(7).fill(true));
  });
  it("does not retry other statuses", () => {
    expect([200, 400, 401, 403, 404, 409, 413, 422, 600].map(isRetryableStatus)).toEqual(Array(9).fill(false));
  });
});

describe("backoffDelay", () => {
  it("is 500 ms base, 10 s cap, 25 s budget by default", () => {
    expect(DEFAULT_RETRY_POLICY).toEqual(policy);
  });
  it("doubles the ceiling per attempt up to the cap", () => {
    const half = [0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(n, policy, () => 0.5));
    expect(half).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });
  it("stays in [0, ceiling) at the ends of random's range", () => {
    expect([0, 3, 9].map((n) => backoffDelay(n, policy, () => 0))).toEqual([0, 0, 0]);
    const top = 1 - Number.EPSILON;
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, policy, () => top))).toEqual([
      499, 999, 1999, 3999, 7999, 9999, 9999,
    ]);
  });
  it("spreads over the whole range with Math.random (full jitter)", () => {
    const samples = Array.from({ length: 2000 }, () => backoffDelay(3, policy, Math.random));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(4000);
    expect(Math.min(...samples)).toBeLessThan(400);
    expect(Math.max(...samples)).toBeGreaterThan(3600);
    expect(samples.every(Number.isInteger)).toBe(true);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("Fri, 27 Nov 2026 18:00:00 GMT");
  it("reads delay-seconds", () => {
    expect(["3", " 7 ", "0", "1.5", "120"].map((v) => parseRetryAfter(v, now))).toEqual([3000, 7000, 0, 1500, 120_000]);
  });
  it("reads an HTTP date relative to now, a past one as 0", () => {
    expect(parseRetryAfter("Fri, 27 Nov 2026 18:00:12 GMT", now)).toBe(12_000);
    expect(parseRetryAfter("Fri, 27 Nov 2026 17:59:00 GMT", now)).toBe(0);
  });
  it("ignores absent and unreadable values", () => {
    expect([null, undefined, "", "-1", "soon", "1e3", "3s"].map((v) => parseRetryAfter(v, now))).toEqual(
      Array(7).fill(undefined),
    );
  });
});

describe("retryDelay", () => {
  it("waits the larger of retry-after and the backoff", () => {
    expect(retryDelay(0, 3000, policy, () => 0.5)).toBe(3000);
    expect(retryDelay(5, 0, policy, () => 0.5)).toBe(5000);
    expect(retryDelay(0, 0, policy, () => 0.5)).toBe(250);
    expect(retryDelay(3, 1000, policy, () => 0.5)).toBe(2000);
  });
  it("caps retry-after at 10 s", () => {
    expect(retryDelay(0, 60_000, policy, () => 0.5)).toBe(10_000);
  });
  it("falls back to the backoff", () => {
    expect(retryDelay(2, undefined, policy, () => 0.5)).toBe(1000);
  });
});

describe("withRetries", () => {
  const retryable = () => ({ retryable: true });

  it("returns the first success, after backoff waits", async () => {
    const clock = fakeClock(0.5);
    let attempts = 0;
    const result = await withRetries(
      async () => {
        attempts++;
        if (attempts < 3) throw new Error("503");
        return "ok";
      },
      retryable,
      { ...policy, ...clock, attemptTimeoutMs: 10_000 },
    );
    expect(result).toBe("ok");
    expect(attempts).toBe(3);
    expect(clock.waits).toEqual([250, 500]);
  });

  it("throws a non-retryable error after one attempt, without waiting", async () => {
    const clock = fakeClock();
    const error = new Error("400");
    let attempts = 0;
    const run = withRetries(
      async () => {
        attempts++;
        throw error;
      },
      () => ({ retryable: false }),
      { ...policy, ...clock, attemptTimeoutMs: 10_000 },
    );
    await expect(run).rejects.toBe(error);
    expect(attempts).toBe(1);
    expect(clock.waits).toEqual([]);
  });

  it("stops before a wait would end past the 25 s budget and throws the last error", async () => {
    const clock = fakeClock(0.5);
    let attempts = 0;
    const run = withRetries(
      async () => {
        attempts++;
        throw new Error(`failure ${attempts}`);
      },
      retryable,
      { ...policy, ...clock, attemptTimeoutMs: 10_000 },
    );
    await expect(run).rejects.toThrow("failure 9");
    expect(clock.waits).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(clock.now()).toBe(22_750);
  });

  it("counts attempt timeouts in the budget and shortens the last one to fit", async () => {
    const clock = fakeClock(0);
    const timeouts: number[] = [];
    const run = withRetries(
      async (timeoutMs) => {
        timeouts.push(timeoutMs);
        clock.advance(timeoutMs);
        throw new Error("timeout");
      },
      retryable,
      { ...policy, ...clock, attemptTimeoutMs: 10_000 },
    );
    await expect(run).rejects.toThrow("timeout");
    expect(timeouts).toEqual([10_000, 10_000, 5000]);
    expect(clock.now()).toBe(25_000);
  });

  it("waits what retry-after says, capped at 10 s", async () => {
    const clock = fakeClock(0.5);
    const after = [3000, 60_000];
    let attempts = 0;
    await withRetries(
      async () => {
        attempts++;
        if (attempts <= 2) throw new Error("429");
        return attempts;
      },
      () => ({ retryable: true, retryAfterMs: after.shift() }),
      { ...policy, ...clock, attemptTimeoutMs: 10_000 },
    );
    expect(clock.waits).toEqual([3000, 10_000]);
  });

  it("gives up at once when retry-after is past the budget", async () => {
    const clock = fakeClock(0.5);
    let attempts = 0;
    const run = withRetries(
      async () => {
        attempts++;
        throw new Error("429");
      },
      () => ({ retryable: true, retryAfterMs: 8000 }),
      { ...policy, budgetMs: 5000, ...clock, attemptTimeoutMs: 10_000 },
    );
    await expect(run).rejects.toThrow("429");
    expect(attempts).toBe(1);
    expect(clock.waits).toEqual([]);
  });
});

describe("sleep", () => {
  it("rejects with the signal's reason when aborted", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const waiting = sleep(10_000, controller.signal);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(sleep(5, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
  it("resolves after the time", async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
