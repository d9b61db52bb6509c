/**
 * Turns for requests made before a call (chargeability checks, spend holds):
 * at most `max` in flight per `Stoa`, the rest waiting first-come in a
 * bounded queue, each for no longer than it can afford.
 */

/** The turns of one `Stoa`. */
export interface Turns {
  /**
   * Resolves with the time left of `timeoutMs` once a turn is free, or with 0
   * when the wait used it all (or the queue is full): then no turn was taken.
   */
  take(timeoutMs: number): Promise<number>;
  /** Gives a taken turn back, to the oldest waiter still in time. */
  give(): void;
}

/** A request waiting for a turn. */
interface Waiter {
  start(timeLeftMs: number): void;
  deadline: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Creates turns: `max` at once (default 32), `maxQueued` waiting (default 10 000). */
export function createTurns(options: { max?: number; maxQueued?: number; now?: () => number } = {}): Turns {
  const max = options.max ?? 32;
  const maxQueued = options.maxQueued ?? 10_000;
  const now = options.now ?? Date.now;
  /** Oldest first: a Set keeps insertion order and deletes in O(1). */
  const queue = new Set<Waiter>();
  let active = 0;
  return {
    take(timeoutMs) {
      if (active < max) {
        active++;
        return Promise.resolve(timeoutMs);
      }
      if (queue.size >= maxQueued) return Promise.resolve(0);
      return new Promise<number>((resolve) => {
        const waiter: Waiter = { start: resolve, deadline: now() + timeoutMs, timer: undefined };
        waiter.timer = setTimeout(() => {
          queue.delete(waiter);
          resolve(0);
        }, timeoutMs);
        queue.add(waiter);
      });
    },
    give() {
      for (const waiter of queue) {
        queue.delete(waiter);
        clearTimeout(waiter.timer);
        const left = waiter.deadline - now();
        if (left <= 0) {
          waiter.start(0);
          continue;
        }
        waiter.start(left); // the turn passes on: `active` is unchanged
        return;
      }
      active--;
    },
  };
}
