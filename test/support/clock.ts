/**
 * A fake clock for the retry loop: `sleep` returns at once and moves `now`
 * forward, so a 25 s budget runs in microseconds and every wait is recorded.
 */
import type { RetryClock } from "../../src/api/retry.ts";

export interface FakeClock extends RetryClock {
  /** Every wait asked of `sleep`, in order. */
  waits: number[];
  /** Moves the clock (to model an attempt's duration). */
  advance(ms: number): void;
}

/** A clock at 0 whose `random()` returns `random` (default 0.5). */
export function fakeClock(random = 0.5): FakeClock {
  let now = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    random: () => random,
    advance(ms) {
      now += ms;
    },
    async sleep(ms) {
      waits.push(ms);
      now += ms;
    },
  };
}
