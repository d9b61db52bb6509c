/** Waiting on work for no longer than a time limit. */

/** What `within` answers when the time ran out first. */
export const LATE = Symbol("late");

/** `work`'s value, or `LATE` when `ms` pass first; the timer is cleared either way, and `work` runs on. */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
