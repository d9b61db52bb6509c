/**
 * The hold book on its own clock, over the real API client and the local
 * Stoa server: when holds retire, when they are released, and sharing.
 */
import { describe, expect, it } from "vitest";
import type { WaitUntil } from "../../src/runtime.ts";
import { type Admission, createHoldBook, type HoldBookOptions } from "../../src/spend/hold-book.ts";
import { createTurns } from "../../src/util/turns.ts";
import { apiSetup } from "../support/api.ts";
import { endsWithin } from "../support/busy.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, stoaReceived } from "../support/stoa.ts";

async function setup(label: string, options: Partial<HoldBookOptions> = {}) {
  const runId = newRunId(label);
  await configureStoa(runId, { members: { ada: { balanceUsd: 1, paid: true }, bob: { balanceUsd: 1, paid: true } } });
  const { api } = apiSetup(runId);
  let t = 1_000_000;
  const errors: Error[] = [];
  const kept: Promise<unknown>[] = [];
  /** The `waitUntil` each piece of kept work was handed with. */
  const keptWith: (WaitUntil | undefined)[] = [];
  const book = createHoldBook({
    api,
    onError: (e) => errors.push(e),
    whenUnavailable: "allow",
    holdUsd: 0.1,
    holdTtlSeconds: 120,
    timeoutMs: 2_000,
    turns: createTurns(),
    keepAlive: (work, waitUntil) => {
      kept.push(work);
      keptWith.push(waitUntil);
    },
    now: () => t,
    ...options,
  });
  const received = async (kind: "holds" | "release") =>
    (await stoaReceived(runId)).filter((r) =>
      kind === "holds" ? /\/holds$/.test(r.path) : /^\/v1\/holds\/[^/]+\/release$/.test(r.path),
    );
  return {
    runId,
    api,
    book,
    errors,
    kept,
    keptWith,
    received,
    tick: (ms: number) => {
      t += ms;
    },
  };
}

function held(admission: Admission): Extract<Admission, { kind: "held" }> {
  if (admission.kind !== "held") throw new Error(`not held: ${JSON.stringify(admission)}`);
  return admission;
}

const NANO = 1_000_000_000;

describe("the hold book", () => {
  it("asks once for concurrent first calls of a user, then spends locally", async () => {
    const { book, received } = await setup("bookshare");
    const admissions = await Promise.all(Array.from({ length: 10 }, () => book.admit("ada", 0.01 * NANO)));
    const ids = new Set(admissions.map((a) => held(a).holdId));
    expect(ids.size).toBe(1); // $0.10 holds ten calls of $0.01
    expect(await received("holds")).toHaveLength(1);
    // the eleventh does not fit: a new hold, and the first retires
    const eleventh = held(await book.admit("ada", 0.01 * NANO));
    expect(ids.has(eleventh.holdId)).toBe(false);
    expect((await received("holds")).map((r) => r.body)).toEqual([
      { minUsd: 0.01, targetUsd: 0.1, ttlSeconds: 120 },
      { minUsd: 0.01, targetUsd: 0.1, ttlSeconds: 120 },
    ]);
  });

  it("reserves at once, without a request, only from a live hold with room", async () => {
    const { book, received, tick } = await setup("booknow");
    expect(book.reserveNow("ada", 0.01 * NANO)).toBeUndefined(); // no hold yet
    expect(book.reserveNow("ada", 0)).toEqual({ kind: "unheld" }); // nothing to reserve
    const first = held(await book.admit("ada", 0.01 * NANO)); // asks: a $0.10 hold
    const now = held(book.reserveNow("ada", 0.08 * NANO) as Admission);
    expect(now.holdId).toBe(first.holdId);
    expect(book.reserveNow("ada", 0.02 * NANO)).toBeUndefined(); // $0.01 left: admit() asks for another
    now.cancel();
    expect(held(book.reserveNow("ada", 0.02 * NANO) as Admission).holdId).toBe(first.holdId);
    tick(91_000); // past the quarter-life margin (30 s before 120 s): retiring, so admit() decides
    expect(book.reserveNow("ada", 0.001 * NANO)).toBeUndefined();
    expect(book.reserveNow("bob", 0.001 * NANO)).toBeUndefined();
    expect(await received("holds")).toHaveLength(1);
  });

  it("a settled call frees what it did not spend", async () => {
    const { book, received } = await setup("booksettle");
    for (let i = 0; i < 50; i++) {
      held(await book.admit("ada", 0.05 * NANO)).settle(0.001 * NANO, Promise.resolve(true));
    }
    // 50 × $0.001 spent of a $0.20 hold (4 × the worst case): one hold serves all fifty
    expect(await received("holds")).toHaveLength(1);
  });

  it("retires a hold a quarter of its life before it expires, and releases it once its calls are delivered", async () => {
    const { book, received, tick, kept } = await setup("bookretire");
    const first = held(await book.admit("ada", 0.01 * NANO));
    let deliver: () => void = () => {};
    const delivered = new Promise<boolean>((resolve) => {
      deliver = () => resolve(true);
    });
    first.settle(0.002 * NANO, delivered);
    tick(89_000); // 120 s hold, 30 s margin: still in use at 89 s
    const again = held(await book.admit("ada", 0.01 * NANO));
    expect(again.holdId).toBe(first.holdId);
    again.cancel();
    tick(2_000); // 91 s: retired; the next call asks for a new hold
    const second = held(await book.admit("ada", 0.01 * NANO));
    expect(second.holdId).not.toBe(first.holdId);
    expect(await received("release")).toHaveLength(0); // the first hold's event is not delivered yet
    deliver();
    await Promise.all(kept);
    expect((await received("release")).map((r) => r.path)).toEqual([`/v1/holds/${first.holdId}/release`]);
  });

  it("releases a retired hold only after its events are delivered", async () => {
    const { book, received, kept } = await setup("bookrelease");
    const call = held(await book.admit("ada", 0.01 * NANO));
    let deliver: () => void = () => {};
    call.settle(0.002 * NANO, new Promise<boolean>((resolve) => (deliver = () => resolve(true))));
    const flushed = book.flush();
    await flushed;
    expect(await received("release")).toHaveLength(0);
    deliver();
    await Promise.all(kept);
    const releases = await received("release");
    expect(releases.map((r) => r.path)).toEqual([`/v1/holds/${call.holdId}/release`]);
  });

  it("does not release a hold that has expired: Stoa returned it already", async () => {
    const { book, received, tick } = await setup("bookexpired");
    held(await book.admit("ada", 0.01 * NANO)).settle(0.001 * NANO, Promise.resolve(true));
    tick(121_000);
    await book.flush();
    expect(await received("release")).toHaveLength(0);
  });

  it("gives back a cancelled reservation", async () => {
    const { book, received } = await setup("bookcancel");
    for (let i = 0; i < 30; i++) held(await book.admit("ada", 0.1 * NANO)).cancel();
    expect(await received("holds")).toHaveLength(1);
  });

  it("keeps users apart, and an open call's worst case counts until it settles", async () => {
    const { book } = await setup("bookusers", { holdUsd: 0.02 });
    const a = held(await book.admit("ada", 0.01 * NANO));
    const b = held(await book.admit("bob", 0.01 * NANO));
    expect(a.holdId).not.toBe(b.holdId);
    const a2 = held(await book.admit("ada", 0.01 * NANO));
    expect(a2.holdId).toBe(a.holdId); // $0.04 hold: four calls of $0.01
    held(await book.admit("ada", 0.01 * NANO));
    held(await book.admit("ada", 0.01 * NANO));
    // four open calls fill it: the fifth needs a new hold
    expect(held(await book.admit("ada", 0.01 * NANO)).holdId).not.toBe(a.holdId);
  });

  it("a call that needs nothing takes no hold", async () => {
    const { book, received } = await setup("bookfree");
    expect(await book.admit("ada", 0)).toEqual({ kind: "unheld" });
    expect(await received("holds")).toHaveLength(0);
  });
});

describe("the hold book keeps its bounds", () => {
  it("does not release a hold whose event Stoa has not stored (queued or reported): it expires holding it", async () => {
    const { book, received, kept, errors } = await setup("bookqueued");
    const call = held(await book.admit("ada", 0.01 * NANO));
    call.settle(0.002 * NANO, Promise.resolve(false)); // in the queue: Stoa debits it later, from this hold
    await book.flush();
    await Promise.all(kept);
    expect(await received("release")).toHaveLength(0);
    expect(errors).toEqual([]);
    // a hold whose events were all stored is released as before
    const next = held(await book.admit("bob", 0.01 * NANO));
    next.settle(0.002 * NANO, Promise.resolve(true));
    await book.flush();
    await Promise.all(kept);
    expect((await received("release")).map((r) => r.path)).toEqual([`/v1/holds/${next.holdId}/release`]);
  });

  it("releases the user's own idle hold and asks again when it is what keeps the balance back", async () => {
    const { runId, book, received, errors } = await setup("bookidle", { holdUsd: 0.5 });
    await configureStoa(runId, { members: { ada: { balanceUsd: 0.6 } } });
    const small = held(await book.admit("ada", 0.01 * NANO)); // a $0.50 hold of the $0.60
    small.settle(0.01 * NANO, Promise.resolve(true));
    // $0.55 does not fit the $0.49 left in the hold, nor the $0.10 outside it: the idle hold goes back first
    const large = held(await book.admit("ada", 0.55 * NANO));
    expect(large.holdId).not.toBe(small.holdId);
    expect((await received("release")).map((r) => r.path)).toEqual([`/v1/holds/${small.holdId}/release`]);
    const holds = await received("holds");
    expect(holds.map((r) => (r.body as { minUsd: number }).minUsd)).toEqual([0.01, 0.55, 0.55]);
    expect(errors).toEqual([]);
  });

  it("still refuses when the user's hold is busy: its calls hold the money", async () => {
    const { runId, book, received } = await setup("bookbusy", { holdUsd: 0.5 });
    await configureStoa(runId, { members: { ada: { balanceUsd: 0.6 } } });
    const open = held(await book.admit("ada", 0.01 * NANO)); // still running
    const refused = await book.admit("ada", 0.55 * NANO);
    expect(refused).toEqual({ kind: "refused", reason: "insufficient_balance", requiredUsd: 0.55, availableUsd: 0.1 });
    expect(await received("release")).toHaveLength(0);
    open.cancel();
  });

  it("admits or gives up on every call within its timeout, however many wait for holds, and releases late grants", async () => {
    const { runId, api, book, received, errors, kept } = await setup("bookslow", { timeoutMs: 600 });
    await configureStoa(runId, { members: { ada: { balanceUsd: 100 } }, delayMs: 500 });
    // $0.20 each: a $0.80 hold serves four, so twelve calls would need three hold requests one after another
    const started = Date.now();
    const took: number[] = [];
    const admissions = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const admission = await book.admit("ada", 0.2 * NANO);
        took.push(Date.now() - started);
        return admission;
      }),
    );
    expect(Math.max(...took)).toBeLessThan(1_100); // one after another, the last would wait 1 500 ms
    expect(admissions.filter((a) => a.kind === "held")).toHaveLength(4);
    expect(admissions.filter((a) => a.kind === "unheld")).toHaveLength(8);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.name === "StoaConnectionError")).toBe(true);
    // the request given up on at 600 ms is granted at 1 000 ms: released, not left holding $0.80 for two minutes
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await Promise.all(kept);
    const holds = await received("holds");
    expect(holds).toHaveLength(2);
    expect(await received("release")).toHaveLength(1);
    const balance = (await api.request("GET", "/v1/members/ada/balance")) as { heldUsd: number };
    expect(balance.heldUsd).toBe(0.8); // the first hold only, its four calls still open
    for (const admission of admissions) if (admission.kind === "held") admission.cancel();
  });

  it("stops waiting when the call is aborted, and gives back the reservation a late grant makes", async () => {
    const { runId, book, received, kept } = await setup("bookabort");
    await configureStoa(runId, { delayMs: 600 });
    const controller = new AbortController();
    const admitting = book.admit("ada", 0.01 * NANO, undefined, controller.signal);
    setTimeout(() => controller.abort(new Error("the app gave up")), 20);
    const started = Date.now();
    await expect(admitting).rejects.toThrow("the app gave up");
    expect(Date.now() - started).toBeLessThan(400); // the hold answers at 600 ms
    // the hold still comes: the aborted call's reservation is given back, so the next call spends from it
    await new Promise((resolve) => setTimeout(resolve, 800));
    await Promise.all(kept);
    const next = held(await book.admit("ada", 0.1 * NANO)); // the whole $0.10 hold is free again
    expect(await received("holds")).toHaveLength(1);
    next.cancel();
  });

  it("flush() ends on a busy server: it waits for the releases under way, not for those other calls start", {
    timeout: 20_000,
  }, async () => {
    const { runId, book, kept } = await setup("bookbusyflush");
    const users = Array.from({ length: 80 }, (_, i) => `user_${i}`);
    await configureStoa(runId, { members: Object.fromEntries(users.map((u) => [u, { balanceUsd: 1, paid: true }])) });
    // a hold per user, each with a call still running; one more user's hold idle
    const open = [];
    for (const user of users) open.push(held(await book.admit(user, 0.01 * NANO)));
    held(await book.admit("ada", 0.01 * NANO)).settle(0.01 * NANO, Promise.resolve(true));
    await configureStoa(runId, { delayMs: 40 }); // each release takes 40 ms
    const flushed = book.flush(); // retires every hold: ada's is released now, the others when their calls end
    // other requests' calls end every 10 ms, each starting a release while the last ones run
    const ending = (async () => {
      for (const call of open) {
        call.cancel();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const ended = await endsWithin(flushed, 500); // the releases started meanwhile run for 0.8 s and more
    await ending;
    await Promise.all(kept);
    expect(ended).toBe(true);
  });

  it("gives back a cancelled reservation's release to the call's waitUntil", async () => {
    const { book, keptWith, kept } = await setup("bookcancelwait");
    const waitUntil: WaitUntil = () => {};
    const call = held(await book.admit("ada", 0.01 * NANO, waitUntil));
    await book.flush(); // retired while the call is open: released when it ends
    call.cancel();
    await Promise.all(kept);
    expect(keptWith.at(-1)).toBe(waitUntil);
  });
});
