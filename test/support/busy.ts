/** A busy server in tests: events that keep coming, and a wait that must end while they do. */
import type { UsageEvent } from "../../src/usage.ts";
import { usageEvent } from "./usage-event.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Adds a fresh usage event every `everyMs` until `stop()`; `added` holds them in order. */
export function keepAdding(
  add: (event: UsageEvent) => unknown,
  everyMs = 5,
): { added: UsageEvent[]; stop(): Promise<void> } {
  const added: UsageEvent[] = [];
  let running = true;
  const adding = (async () => {
    while (running) {
      const event = usageEvent();
      added.push(event);
      add(event);
      await sleep(everyMs);
    }
  })();
  return {
    added,
    async stop() {
      running = false;
      await adding;
    },
  };
}

/** Whether `work` settles within `ms`. */
export async function endsWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let ended = false;
  const watched = work.then(() => {
    ended = true;
  });
  await Promise.race([watched, sleep(ms)]);
  return ended;
}
