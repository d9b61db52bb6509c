/**
 * The price table, kept for its `ttlSeconds`: one request at a time, shared
 * by every caller that needs it while it is in flight.
 */
import { getPrices } from "../api/prices.ts";
import type { ApiClient } from "../api/types.ts";
import type { PriceTable } from "./price-table.ts";

/** The cached price table. */
export interface PriceCache {
  /** The table; fetched when missing or stale. Rejects as `getPrices` does. */
  get(): Promise<PriceTable>;
  /** The table when it is here and fresh, else undefined (then `get()`). */
  peek(): PriceTable | undefined;
}

/** Creates the cache. */
export function createPriceCache(api: ApiClient, options: { timeoutMs: number; now?: () => number }): PriceCache {
  const now = options.now ?? Date.now;
  let table: PriceTable | undefined;
  let freshUntil = 0;
  let loading: Promise<PriceTable> | undefined;
  return {
    peek() {
      return table !== undefined && now() < freshUntil ? table : undefined;
    },
    get() {
      if (table !== undefined && now() < freshUntil) return Promise.resolve(table);
      loading ??= getPrices(api, { timeoutMs: options.timeoutMs })
        .then((loaded) => {
          table = loaded;
          freshUntil = now() + loaded.ttlSeconds * 1000;
          return loaded;
        })
        .finally(() => {
          loading = undefined;
        });
      // a stale table still serves while a fresh one cannot be had
      return table === undefined ? loading : loading.catch(() => table as PriceTable);
    },
  };
}
