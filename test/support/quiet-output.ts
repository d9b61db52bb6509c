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
