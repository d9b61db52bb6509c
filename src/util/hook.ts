/** The app's error hooks: called so that what they throw or reject never reaches us, and the default one. */
import { StoaDeliveryError, StoaError } from "../errors.ts";

/** `hook`, called so that a throw or a rejected promise of it is swallowed: a failing hook must not break the app. */
export function quietly<A extends unknown[]>(hook: (...args: A) => unknown): (...args: A) => void {
  return (...args) => {
    try {
      const returned: unknown = hook(...args);
      if (typeof (returned as PromiseLike<unknown> | null)?.then === "function") {
        (returned as PromiseLike<unknown>).then(undefined, () => {});
      }
    } catch {
      // swallowed: see above
    }
  };
}

/** The default `onError`: one line, no secrets, the number of events it carries. */
export function logError(error: Error): void {
  const code = error instanceof StoaError ? ` (${error.code})` : "";
  const events = error instanceof StoaDeliveryError ? ` [${error.events.length} usage events attached]` : "";
  console.error(`[stoa] ${error.name}${code}: ${error.message}${events}`);
}
