/**
 * Where a pending resume waits while the user pays: a record per `state`,
 * put once and taken once. Taking is what makes a `state` usable once.
 */

/** A key-value store with expiry whose `take` returns a record and removes it. */
export interface ResumeStore {
  /** Keeps `value` under `key` for `ttlSeconds`. */
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** The value under `key`, removed; null when absent, expired or already taken. */
  take(key: string): Promise<string | null>;
}

/**
 * The default store: memory of this isolate, atomic. On Workers a return can
 * land on another isolate; use `kvStore` there.
 */
export function memoryStore(): ResumeStore {
  const records = new Map<string, { value: string; expiresAt: number }>();
  return {
    async put(key, value, ttlSeconds) {
      const now = Date.now();
      for (const [k, record] of records) if (record.expiresAt <= now) records.delete(k);
      records.set(key, { value, expiresAt: now + ttlSeconds * 1000 });
    },
    async take(key) {
      const record = records.get(key);
      records.delete(key);
      return record === undefined || record.expiresAt <= Date.now() ? null : record.value;
    },
  };
}

/** The part of a Workers KV namespace that `kvStore` uses. */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * A store over Workers KV (`env.STOA_RESUME`). KV is eventually consistent:
 * two returns with the same `state` racing each other across locations could
 * both read the record before the delete lands; the payment is checked with
 * Stoa either way.
 */
export function kvStore(kv: KVNamespaceLike, prefix = "stoa:resume:"): ResumeStore {
  return {
    async put(key, value, ttlSeconds) {
      // KV's smallest expirationTtl is 60 s
      await kv.put(prefix + key, value, { expirationTtl: Math.max(60, Math.ceil(ttlSeconds)) });
    },
    async take(key) {
      const value = await kv.get(prefix + key);
      if (value !== null) await kv.delete(prefix + key);
      return value;
    },
  };
}
