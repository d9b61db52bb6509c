/**
 * The queue outbox as `new Stoa({ outbox })` holds it: `queue-outbox.ts`
 * (and its message packing) loads with the first event rather than with the
 * package. Until it is loaded, events wait for it and are kept alive on
 * their `waitUntil`; from then on every call goes straight to it. The
 * hand-off was a microtask already: events of one synchronous run still
 * share one `sendBatch`.
 */
import { StoaDeliveryError } from "../errors.ts";
import type { WaitUntil } from "../runtime.ts";
import type { UsageEvent } from "../usage.ts";
import type { Delivered, Outbox } from "./outbox.ts";
import type { QueueOutboxOptions } from "./queue-outbox.ts";
import { vercelRequestContext } from "./wait-until.ts";

/** A queue outbox that loads `queue-outbox.ts` on its first `add()`; if that fails, events go to `fallback`. */
export function loadingQueueOutbox(options: QueueOutboxOptions): Outbox {
  let outbox: Outbox | undefined;
  let loading: Promise<Outbox | undefined> | undefined;
  let waiting = 0;

  function load(): Promise<Outbox | undefined> {
    loading ??= import("./queue-outbox.ts").then(
      (module) => {
        outbox = module.createQueueOutbox(options);
        return outbox;
      },
      (cause: unknown) => {
        try {
          options.onError(
            new StoaDeliveryError("Could not load the queue outbox; events are delivered directly.", [], { cause }),
          );
        } catch {
          // the app's hook failing is not ours to surface
        }
        return undefined;
      },
    );
    return loading;
  }

  return {
    add(event: UsageEvent, waitUntil?: WaitUntil): Delivered {
      if (outbox !== undefined) return outbox.add(event, waitUntil);
      waiting++;
      const delivered = load().then((loaded) => {
        waiting--;
        return (loaded ?? options.fallback).add(event, waitUntil);
      });
      // kept alive at once, as the queue outbox does; it hands its own promise over too once loaded
      try {
        if (typeof waitUntil === "function") waitUntil(delivered);
        else vercelRequestContext()?.waitUntil(delivered);
      } catch {
        // the queue outbox reports a throwing waitUntil when it is handed the event
      }
      return delivered;
    },
    flush(): Promise<void> {
      if (outbox !== undefined || loading === undefined) return (outbox ?? options.fallback).flush();
      return loading.then((loaded) => (loaded ?? options.fallback).flush());
    },
    get held(): number {
      return waiting + (outbox ?? options.fallback).held;
    },
  };
}
