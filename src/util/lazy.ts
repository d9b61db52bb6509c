/**
 * Code loaded on first use (`import()`, so bundlers split it from the
 * package's entry): one load at a time, read synchronously once loaded, and
 * a failed load tried again by the next use.
 */

/** A value loaded on first use. */
export interface Lazy<T> {
  /** The value once loaded, else undefined: what a hot path reads. */
  readonly value: T | undefined;
  /** The load under way or done; undefined before the first `load()` and after a failure. */
  readonly loading: Promise<T> | undefined;
  /** Loads the value, once; rejects as the load does. */
  load(): Promise<T>;
}

/** A `Lazy` over `load`. */
export function lazy<T>(load: () => Promise<T>): Lazy<T> {
  let value: T | undefined;
  let loading: Promise<T> | undefined;
  return {
    get value() {
      return value;
    },
    get loading() {
      return loading;
    },
    load() {
      loading ??= load().then(
        (loaded) => {
          value = loaded;
          return loaded;
        },
        (error: unknown) => {
          loading = undefined;
          throw error;
        },
      );
      return loading;
    },
  };
}
