/**
 * The call gate as `new Stoa()` builds it: made synchronously, while the
 * spend-hold code (`call-gate.ts`: the hold book, price table, worst-case
 * bound) loads with the first metered call's admission, which was
 * asynchronous already. From then on `admit` goes straight to the gate.
 */
import type { CallAdmission, CallGate, GatedCall } from "./call-gate.ts";

type GateModule = typeof import("./call-gate.ts");

/**
 * A gate built by `build` once `call-gate.ts` is loaded. When it cannot be
 * loaded, a call is decided by `unloaded` (the `whenUnavailable` answer),
 * and the next call tries again.
 */
export function loadingCallGate(
  build: (module: GateModule) => CallGate,
  unloaded: (error: unknown) => CallAdmission,
): CallGate {
  let gate: CallGate | undefined;
  let loading: Promise<CallGate> | undefined;
  return {
    admit(call: GatedCall, signal?: AbortSignal | null): Promise<CallAdmission> {
      if (gate !== undefined) return gate.admit(call, signal);
      loading ??= import("./call-gate.ts").then(
        (module) => {
          gate ??= build(module);
          return gate;
        },
        (error: unknown) => {
          loading = undefined;
          throw error;
        },
      );
      return loading.then((loaded) => loaded.admit(call, signal), unloaded);
    },
    flush(): Promise<void> {
      if (gate !== undefined) return gate.flush();
      if (loading === undefined) return Promise.resolve(); // no call yet: no hold
      return loading.then(
        (loaded) => loaded.flush(),
        () => {},
      );
    },
  };
}
