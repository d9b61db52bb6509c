/**
 * A passing run stays quiet: `quietSourcemaps()` is a Vite plugin that drops
 * Vite's one warning about dependencies that ship source maps without their
 * sources (standardwebhooks via @anthropic-ai/sdk, @workflow/serde via the AI SDK).
 */
import type { Plugin } from "vite";

/** Dependencies whose published source maps name sources they do not ship (nothing to fix on our side). */
const MAPS_WITHOUT_SOURCES =
  /^Sourcemap for "[^"]*\/node_modules\/(standardwebhooks|@workflow\/serde)\/dist\/index\.js" points to missing source files$/;

/** A Vite plugin that silences exactly the missing-sources warning for {@link MAPS_WITHOUT_SOURCES}. */
export function quietSourcemaps(): Plugin {
  return {
    name: "stoa:quiet-sourcemaps",
    configResolved(config) {
      const { logger } = config;
      const warnOnce = logger.warnOnce.bind(logger);
      logger.warnOnce = (message, options) => {
        if (MAPS_WITHOUT_SOURCES.test(message)) return;
        warnOnce(message, options);
      };
    },
  };
}

/**
 * What workerd logs for failures the suite causes on purpose: a Stoa or
 * provider on a closed port, a body cut mid-stream, the queue consumer that
 * crashes before it acks, and the message that test sends to the dead-letter
 * queue. Each is one write of the Workers pool's structured log handler.
 */
const DELIBERATE_WORKERD_LOGS = [
  /disconnected: jsg\.Error: Network connection lost\./,
  /Uncaught \(in promise\); stack = Error: Network connection lost\./,
  /disconnected: Connection refused \(os error 111\)/,
  /disconnected: HTTP body: error reading a body from connection/,
  /the consumer crashed before acking/,
  /Moving message "[0-9a-f]+" on queue "stoa-doomed" to dead letter queue "stoa-dlq"/,
];

/**
 * Drops, from this process's stderr and stdout, exactly the workerd lines of
 * {@link DELIBERATE_WORKERD_LOGS}; everything else is written as it is.
 * Installed once, from the vitest config (the main process, where the Workers
 * pool writes workerd's logs).
 */
export function quietDeliberateWorkerdLogs(): void {
  for (const stream of [process.stderr, process.stdout]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString() : "";
      if (text.length < 4096 && DELIBERATE_WORKERD_LOGS.some((pattern) => pattern.test(text))) {
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
        callback?.();
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}
