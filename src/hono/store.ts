/**
 * Where a pending resume waits while the user pays: a record per `state` and
 * payment session, put by `chargeRequired` and taken once by
 * `paymentReturn`. Taking is what makes a return usable once, so `take` must
 * get and remove in one step.
 */
import { StoaConfigError, StoaError } from "../errors.ts";

/** A key-value store with expiry whose `take` returns a record and removes it. */
export interface ResumeStore {
  /**
   * Keeps `value` under `key` for `ttlSeconds`, replacing what was there.
   * May throw `StoaStoreFullError` to refuse it (the payment is then refused
   * too); anything else it throws is a failure: the payment still starts,
   * without this record (`StoaStoreError` to `chargeRequired`'s `onError`).
   */
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * The value under `key`, removed; null when absent, expired or already
   * taken. Of concurrent takes of one key, at most one may return the value:
   * that is what keeps a return from resuming twice.
   */
  take(key: string): Promise<string | null>;
}

/** A store refused a record: it holds as many records or bytes as it may. */
export class StoaStoreFullError extends StoaError {
  override readonly code = "store_full" as const;
  /** Which bound the record would have crossed. */
  readonly limit: "records" | "bytes";

  constructor(limit: "records" | "bytes", max: number) {
    super(
      `The resume store is full (${max} ${limit}): no payment can start until records are taken or expire. ` +
        "Raise memoryStore({ maxRecords, maxBytes }) or use a shared store such as kvStore.",
      "store_full",
    );
    this.name = "StoaStoreFullError";
    this.limit = limit;
  }
}

/**
 * A store failed to keep a blocked request's record (a `put` threw anything
 * but `StoaStoreFullError`: Workers KV refusing a second write to one key
 * within a second, an outage). The payment still starts; that request is
 * not resumed after it. `cause` is what the store threw.
 */
export class StoaStoreError extends StoaError {
  override readonly code = "store_error" as const;

  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `The resume store failed to keep the blocked request (${why}): this request will not be resumed after payment.`,
      "store_error",
      { cause },
    );
    this.name = "StoaStoreError";
  }
}

/** Bounds of `memoryStore`. */
export interface MemoryStoreOptions {
  /** The most records held at once (default 10 000). */
  maxRecords?: number;
  /** The most UTF-8 bytes of keys and values held at once (default 32 MiB). */
  maxBytes?: number;
}

/** A `ResumeStore` in this isolate's memory, with what it holds now. */
export interface MemoryStore extends ResumeStore {
  /** Records held, expired ones not yet swept included. */
  readonly size: number;
  /** UTF-8 bytes of the keys and values held. */
  readonly bytes: number;
}

const encoder = new TextEncoder();

/**
 * A store in this isolate's memory. `take` is atomic (one synchronous get
 * and delete), so concurrent returns resume once. Bounded by `maxRecords`
 * and `maxBytes`: a `put` past either throws `StoaStoreFullError` and keeps
 * what was there. `put` is O(1): records sit in insertion order and expired
 * ones are swept from the oldest end (a record that outlives a younger one
 * is swept when it reaches that end, or when taken). On Workers a return can
 * land on another isolate; use `kvStore` there.
 *
 * @throws {StoaConfigError} when a bound is not a whole number ≥ 1.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxRecords = bound(options.maxRecords ?? 10_000, "maxRecords");
  const maxBytes = bound(options.maxBytes ?? 32 * 1024 * 1024, "maxBytes");
  const records = new Map<string, { value: string; expiresAt: number; bytes: number }>();
  let bytes = 0;

  function remove(key: string): { value: string; expiresAt: number } | undefined {
    const record = records.get(key);
    if (record === undefined) return undefined;
    records.delete(key);
    bytes -= record.bytes;
    return record;
  }

  function sweep(now: number): void {
    for (const [key, record] of records) {
      if (record.expiresAt > now) return;
      remove(key);
    }
  }

  return {
    get size() {
      return records.size;
    },
    get bytes() {
      return bytes;
    },
    async put(key, value, ttlSeconds) {
      const now = Date.now();
      sweep(now);
      const size = encoder.encode(key).byteLength + encoder.encode(value).byteLength;
      const old = records.get(key);
      if (records.size - (old === undefined ? 0 : 1) + 1 > maxRecords)
        throw new StoaStoreFullError("records", maxRecords);
      if (bytes - (old?.bytes ?? 0) + size > maxBytes) throw new StoaStoreFullError("bytes", maxBytes);
      remove(key); // re-inserted at the young end
      records.set(key, { value, expiresAt: now + ttlSeconds * 1000, bytes: size });
      bytes += size;
    },
    async take(key) {
      const record = remove(key);
      return record === undefined || record.expiresAt <= Date.now() ? null : record.value;
    },
  };
}

function bound(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new StoaConfigError(`memoryStore(): ${name} must be a whole number ≥ 1.`);
  return value;
}

/** The part of a Workers KV namespace that `kvStore` uses. */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** How long a taken key stays claimed in an isolate: KV's usual propagation time. */
const CLAIM_MS = 60_000;
/** The most claimed keys an isolate remembers per namespace; the oldest go first. */
const MAX_CLAIMS = 10_000;

/** Keys taken in this isolate, per namespace, so that `kvStore(env.X)` made per request shares them. */
const claimsByNamespace = new WeakMap<KVNamespaceLike, Map<string, number>>();

/**
 * A store over Workers KV (`env.STOA_RESUME`), for returns that land on
 * another isolate than the blocked request.
 *
 * What it can promise: within one isolate, concurrent and repeated takes of
 * a key return the value at most once (the key is claimed before KV is read
 * and stays claimed for 60 s). Across isolates it cannot: KV is eventually
 * consistent, so two returns with the same link racing in different
 * isolates or locations within KV's propagation time (about 60 s) can both
 * read the record and both resume. Each resume is still the blocked user's
 * own action, replayed only for them and gated again by Stoa. Where a
 * replay must never run twice, use a strongly consistent store: a
 * `ResumeStore` whose `take` is one atomic delete-and-return, such as
 * `DELETE … RETURNING` on D1 or a Durable Object.
 */
export function kvStore(kv: KVNamespaceLike, prefix = "stoa:resume:"): ResumeStore {
  let claims = claimsByNamespace.get(kv);
  if (claims === undefined) {
    claims = new Map();
    claimsByNamespace.set(kv, claims);
  }
  const claimed = claims;
  return {
    async put(key, value, ttlSeconds) {
      // KV's smallest expirationTtl is 60 s
      await kv.put(prefix + key, value, { expirationTtl: Math.max(60, Math.ceil(ttlSeconds)) });
    },
    async take(key) {
      const now = Date.now();
      for (const [k, until] of claimed) {
        if (until > now && claimed.size < MAX_CLAIMS) break;
        claimed.delete(k);
      }
      const id = prefix + key;
      if ((claimed.get(id) ?? 0) > now) return null;
      claimed.set(id, now + CLAIM_MS); // before any await: a concurrent take sees it
      const value = await kv.get(id);
      if (value === null) {
        claimed.delete(id);
        return null;
      }
      await kv.delete(id);
      return value;
    },
  };
}
