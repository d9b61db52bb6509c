/** Waiting on work that an `AbortSignal` may cut short. */

/**
 * `work`, or a rejection with `signal`'s reason as soon as it aborts. The
 * work runs on either way; what it resolves to after the abort goes to
 * `late` (to give back what it took), and its failure is swallowed.
 */
export function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | null | undefined,
  late?: (value: T) => void,
): Promise<T> {
  if (signal === null || signal === undefined) return work;
  const leftOver = () => void work.then(late, () => {});
  if (signal.aborted) {
    leftOver();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      leftOver();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
