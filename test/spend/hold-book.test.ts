/**
 * The hold book on its own clock, over the real API client and the local
 * Stoa server: when holds retire, when they are released, and sharing.
 */
import { describe, expect, it } from "vitest";
import { type Admission, createHoldBook, type HoldBookOptions } from "../../src/spend/hold-book.ts";
import { createTurns } from "../../src/util/turns.ts";
import { apiSetup } from "../support/api.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, stoaReceived } from "../support/stoa.ts";

async function setup(label: string, options: Partial<HoldBookOptions> = {}) {
  const runId = newRunId(label);
  await configureStoa(runId, { members: { ada: { balanceUsd: 1, paid: true }, bob: { balanceUsd: 1, paid: true } } });
  const { api } = apiSetup(runId);
  let t = 1_000_000;
  const errors: Error[] = [];
  const kept: Promise<unknown>[] = [];
  const book = createHoldBook({
    api,
    onError: (e) => errors.push(e),
    whenUnavailable: "allow",
    holdUsd: 0.1,
    holdTtlSeconds: 120,
    timeoutMs: 2_000,
    turns: createTurns(),
    keepAlive: (work) => kept.push(work),
    now: () => t,
    ...options,
  });
  const received = async (kind: "holds" | "release") =>
    (await stoaReceived(runId)).filter((r) =>
      kind === "holds" ? /\/holds$/.test(r.path) : /^\/v1\/holds\/[^/]+\/release$/.test(r.path),
    );
  return {
    runId,
    book,
    errors,
    kept,
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
      held(await book.admit("ada", 0.05 * NANO)).settle(0.001 * NANO, Promise.resolve());
    }
    // 50 × $0.001 spent of a $0.20 hold (4 × the worst case): one hold serves all fifty
    expect(await received("holds")).toHaveLength(1);
  });

  it("retires a hold a quarter of its life before it expires, and releases it once its calls are delivered", async () => {
    const { book, received, tick, kept } = await setup("bookretire");
    const first = held(await book.admit("ada", 0.01 * NANO));
    let deliver: () => void = () => {};
    const delivered = new Promise<void>((resolve) => {
      deliver = resolve;
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
    call.settle(0.002 * NANO, new Promise<void>((resolve) => (deliver = resolve)));
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
    held(await book.admit("ada", 0.01 * NANO)).settle(0.001 * NANO, Promise.resolve());
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
