/**
 * The resume stores: `memoryStore` (bounded by records and bytes, O(1)
 * `put`, atomic `take`) and `kvStore` (single use within an isolate), and a
 * `kvStore` serving the whole flow from `c.env`.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { chargeRequired, kvStore, memoryStore, paymentReturn, StoaStoreFullError, stoa } from "../../src/hono/index.ts";
import { StoaChargeRequiredError, StoaConfigError, StoaError } from "../../src/index.ts";
import { meterRun } from "../support/meter.ts";
import { completePaymentSession } from "../support/stoa.ts";
import { fakeKv, HTML, returnPath, SECRET, sessionIdOf } from "./app.ts";

describe("kvStore()", () => {
  it("puts with a TTL of at least 60 s and takes once", async () => {
    const kv = fakeKv();
    const map = kv.map;
    const store = kvStore(kv);
    await store.put("a", "1", 10);
    expect(map.get("stoa:resume:a")?.ttl).toBe(60);
    expect(await store.take("a")).toBe("1");
    expect(await store.take("a")).toBeNull();
  });

  it("serves the flow from c.env through a store function", async () => {
    const run = await meterRun("hono-kv", {}, true);
    const kv = fakeKv();
    const store = (c: { env: { RESUME: ReturnType<typeof fakeKv> } }) => kvStore(c.env.RESUME);
    const app = new Hono<{ Bindings: { RESUME: ReturnType<typeof fakeKv> } }>();
    app.use(stoa({ client: run.stoa }));
    app.onError(chargeRequired({ secret: SECRET, store }));
    app.get("/stoa/return", paymentReturn({ secret: SECRET, store }));
    app.get("/page", () => {
      throw new StoaChargeRequiredError("u", "payment_required");
    });
    const env = { RESUME: kv };
    const blocked = await app.request("/page", { headers: HTML }, env);
    expect(blocked.status).toBe(303);
    expect(kv.map.size).toBe(1);
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    await completePaymentSession(run.runId, sessionId);
    const back = await app.request(await returnPath(run, sessionId), { headers: HTML }, env);
    expect(back.headers.get("location")).toBe("http://localhost/page");
    expect(kv.map.size).toBe(0);
  });

  it("memoryStore forgets expired records", async () => {
    const store = memoryStore();
    await store.put("a", "1", 0);
    expect(await store.take("a")).toBeNull();
  });
});

describe("memoryStore()", () => {
  it("refuses a record past maxRecords with StoaStoreFullError, keeps what it holds, and lets a key be replaced", async () => {
    const store = memoryStore({ maxRecords: 2 });
    await store.put("a", "1", 60);
    await store.put("b", "2", 60);
    const full = await store.put("c", "3", 60).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(StoaStoreFullError);
    expect(full).toBeInstanceOf(StoaError);
    expect(full).toMatchObject({ code: "store_full", limit: "records" });
    expect(store.size).toBe(2);
    await store.put("a", "1b", 60); // a replacement is not a new record
    expect(await store.take("a")).toBe("1b");
    await store.put("c", "3", 60);
    expect([store.size, await store.take("b"), await store.take("c")]).toEqual([2, "2", "3"]);
  });

  it("counts UTF-8 bytes of keys and values and refuses a record past maxBytes", async () => {
    const store = memoryStore({ maxBytes: 12 });
    await store.put("k", "été", 60); // 1 + 5
    expect(store.bytes).toBe(6);
    await store.put("k", "abcdefgh", 60); // replaced: 1 + 8
    expect(store.bytes).toBe(9);
    const full = await store.put("j", "abc", 60).catch((e: unknown) => e); // 9 + 4 > 12
    expect(full).toMatchObject({ code: "store_full", limit: "bytes" });
    expect([store.size, store.bytes]).toEqual([1, 9]);
    expect(await store.take("k")).toBe("abcdefgh");
    expect([store.size, store.bytes]).toEqual([0, 0]);
    expect(() => memoryStore({ maxRecords: 0 })).toThrow(StoaConfigError);
    expect(() => memoryStore({ maxBytes: 1.5 })).toThrow(StoaConfigError);
  });

  it("sweeps expired records from the oldest end only, so a put does not scan every record", async () => {
    const store = memoryStore();
    await store.put("old", "1", 0);
    await store.put("new", "2", 600);
    expect(store.size).toBe(1); // "old" was at the oldest end
    await store.put("short", "3", 0); // expired, behind a live record
    await store.put("next", "4", 600);
    expect(store.size).toBe(3); // "short" waits behind "new": nothing scanned past it
    expect(await store.take("short")).toBeNull();
    expect(store.size).toBe(2);
    expect(await store.take("new")).toBe("2");
  });

  it("of five concurrent takes of one key, one gets the value", async () => {
    const store = memoryStore();
    await store.put("s", "record", 60);
    const taken = await Promise.all([1, 2, 3, 4, 5].map(() => store.take("s")));
    expect(taken.filter((v) => v !== null)).toEqual(["record"]);
  });
});

/** A KV that answers after a macrotask, like a network call, and whose deletes may not be seen yet. */
function slowKv(options: { staleDeletes?: boolean } = {}) {
  const map = new Map<string, string>();
  let gets = 0;
  const later = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    map,
    gets: () => gets,
    async get(key: string) {
      gets++;
      await later();
      return map.get(key) ?? null;
    },
    async put(key: string, value: string) {
      await later();
      map.set(key, value);
    },
    async delete(key: string) {
      await later();
      if (options.staleDeletes !== true) map.delete(key);
    },
  };
}

describe("kvStore() single use", () => {
  it("of five concurrent takes of one key in an isolate, one gets the value", async () => {
    const kv = slowKv();
    const store = kvStore(kv);
    await store.put("s", "record", 600);
    const taken = await Promise.all([1, 2, 3, 4, 5].map(() => store.take("s")));
    expect(taken.filter((v) => v !== null)).toEqual(["record"]);
    expect(kv.gets()).toBe(1);
  });

  it("holds across stores made per request over one namespace, and while KV still serves a deleted key", async () => {
    const kv = slowKv({ staleDeletes: true });
    await kvStore(kv).put("s", "record", 600);
    const taken = await Promise.all([1, 2, 3, 4, 5].map(() => kvStore(kv).take("s")));
    expect(taken.filter((v) => v !== null)).toEqual(["record"]);
    expect(kv.map.has("stoa:resume:s")).toBe(true); // this KV has not caught up
    expect(await kvStore(kv).take("s")).toBeNull();
    // another namespace binding is another store
    const other = slowKv();
    await kvStore(other).put("s", "theirs", 600);
    expect(await kvStore(other).take("s")).toBe("theirs");
  });

  it("releases the claim of a key it did not find", async () => {
    const kv = slowKv();
    const store = kvStore(kv);
    expect(await store.take("late")).toBeNull();
    await store.put("late", "now", 600);
    expect(await store.take("late")).toBe("now");
  });
});
