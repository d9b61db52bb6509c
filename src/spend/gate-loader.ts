/**
 * The call gate as `new Stoa()` builds it: made synchronously, while the
 * spend-hold code (`call-gate.ts`: the hold book, price table, worst-case
 * bound) loads with the first metered call's admission, which was
 * asynchronous already. From then on `admit` goes straight to the gate.
 */
import { lazy } from "../util/lazy.ts";
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
  const gate = lazy(() => import("./call-gate.ts").then(build));
  return {
    admit(call: GatedCall, signal?: AbortSignal | null): CallAdmission | Promise<CallAdmission> {
      const loaded = gate.value;
      if (loaded !== undefined) return loaded.admit(call, signal);
      return gate.load().then((built) => built.admit(call, signal), unloaded);
    },
    flush(): Promise<void> {
      const loaded = gate.value;
      if (loaded !== undefined) return loaded.flush();
      const { loading } = gate;
      if (loading === undefined) return Promise.resolve(); // no call yet: no hold
      return loading.then(
        (built) => built.flush(),
        () => {},
      );
    },
  };
}
