/**
 * The spend holds of one `Stoa`, per user: a call reserves its worst case
 * from the user's current hold with no round trip, and the reservation is
 * replaced by the call's actual cost when its event is built. When the hold
 * cannot cover a call, one request asks Stoa for a new hold (concurrent
 * callers for one user share it); the old hold is retired, and released once
 * its calls have ended and their events are delivered, so Stoa settles them
 * against it first.
 *
 * Money is counted in integer nano-dollars. Stoa grants holds atomically per
 * member, so the sum of every instance's reservations never exceeds what the
 * member has: this file only has to never spend past its own holds.
 */
import { type GrantedHold, type HoldRequest, type RefusedHold, releaseHold, requestHold } from "../api/holds.ts";
import type { ApiClient } from "../api/types.ts";
import { type ChargeRequiredReason, StoaAPIError, StoaConnectionError, StoaError } from "../errors.ts";
import { throwIfRefused } from "../gate/refused.ts";
import type { WaitUntil } from "../runtime.ts";
import { unlessAborted } from "../util/abortable.ts";
import { LATE, within } from "../util/time-limit.ts";
import type { Turns } from "../util/turns.ts";
import { nanosToUsd, usdToNanos } from "./price-table.ts";

/** Options of {@link createHoldBook}. */
export interface HoldBookOptions {
  api: ApiClient;
  /** Hears of holds that could not be asked for or released. Never throws. */
  onError(error: Error): void;
  /** What a call does when Stoa cannot grant a hold in time. */
  whenUnavailable: "allow" | "block";
  /** The hold size wanted, in USD: a request asks for `max(holdUsd, 4 × the call's worst case)`. */
  holdUsd: number;
  /** Lifetime asked for each hold, 10 to 900 s. */
  holdTtlSeconds: number;
  /** Longest wait of a call for its admission: turns, hold requests and other callers' requests included. */
  timeoutMs: number;
  /** Turns shared with the other requests made before a call. */
  turns: Turns;
  /** Keeps background work (a release) alive: the call's `waitUntil`, and `flush()`. */
  keepAlive(work: Promise<unknown>, waitUntil: WaitUntil | undefined): void;
  /** Users with holds kept at once (default 10 000); past it the least recently used is retired. */
  maxUsers?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** How a call may go ahead. */
export type Admission =
  /** Under a hold: settle it exactly once with the call's cost, or cancel it if no event will be made. */
  | {
      kind: "held";
      holdId: string;
      settle(costNanos: number, delivered: Promise<boolean>, waitUntil?: WaitUntil): void;
      cancel(): void;
    }
  /** Without a hold: Stoa was unavailable and `whenUnavailable` is `allow`, or the call cannot cost anything. */
  | { kind: "unheld" }
  /** Refused: the call must not reach the provider. */
  | { kind: "refused"; reason: ChargeRequiredReason; requiredUsd: number; availableUsd: number | undefined }
  /** Stoa answered 404 to holds (it speaks only `2026-11-01`): use the chargeability check instead. */
  | { kind: "unsupported" };

/** The book. */
export interface HoldBook {
  /**
   * Reserves `worstNanos` for a call of `userId`, within `timeoutMs` (the
   * book's own unless given; past it the call is let through or blocked, as
   * `whenUnavailable` says). Rejects
   * with `signal`'s reason as soon as it aborts (a reservation that comes
   * later is given back), and with a `StoaConfigError` when Stoa refuses the
   * hold request itself (a 4xx other than 404, 408 and 429: a bad key),
   * which is the app's to fix.
   */
  admit(
    userId: string,
    worstNanos: number,
    waitUntil?: WaitUntil,
    signal?: AbortSignal | null,
    timeoutMs?: number,
  ): Promise<Admission>;
  /**
   * The same when it needs no request: `userId`'s hold is live and has room
   * (or the call cannot cost anything). Undefined otherwise: then `admit`.
   */
  reserveNow(userId: string, worstNanos: number, waitUntil?: WaitUntil): Admission | undefined;
  /** Retires every hold and resolves when each one that can be released now is released. */
  flush(): Promise<void>;
}

interface Hold {
  id: string;
  /** Granted, in nano-dollars. */
  amount: number;
  /** Worst cases of open calls plus the actual costs of settled ones. */
  committed: number;
  /** Calls reserved and not yet settled or cancelled. */
  open: number;
  /** Events settled under it and not yet delivered (or reported). */
  undelivered: number;
  /**
   * An event of it was not stored by Stoa (it is in a queue, or was reported):
   * the hold is left to expire rather than released, so that the event, when
   * it reaches Stoa, still spends from the reservation made for it.
   */
  kept: boolean;
  /** Local time after which no call starts under it. */
  retireAt: number;
  /** Local estimate of its expiry (never later than Stoa's). */
  expiresAt: number;
  retired: boolean;
  release: Promise<void> | undefined;
}

interface Account {
  current: Hold | undefined;
  asking: Promise<Asked> | undefined;
  /** The `minUsd` (nanos) of the request in flight. */
  askingFor: number;
}

/** A hold request's outcome; a grant carries the asker's own reservation, made before anyone else can take it. */
type Asked = { kind: "granted"; mine: Admission } | Exclude<Admission, { kind: "held" }>;

/** Rounds a call waits for holds that others asked for before it asks on its own. */
const MAX_ATTEMPTS = 8;

/**
 * How long a hold request runs after its caller gave up on it: a hold granted
 * that late is released at once instead of holding the user's money until it
 * expires. The request keeps its turn until then.
 */
const LATE_GRANT_MS = 10_000;

/** A refusal names what the call itself needed. */
function withRequired(asked: Exclude<Asked, { kind: "granted" }>, worst: number): Exclude<Admission, { kind: "held" }> {
  return asked.kind === "refused" ? { ...asked, requiredUsd: nanosToUsd(worst) } : asked;
}

/** Creates the hold book of one `Stoa`. */
export function createHoldBook(options: HoldBookOptions): HoldBook {
  const now = options.now ?? Date.now;
  const maxUsers = options.maxUsers ?? 10_000;
  const accounts = new Map<string, Account>();
  const releases = new Set<Promise<void>>();
  const ttlMs = options.holdTtlSeconds * 1000;
  /** A hold stops taking calls a quarter of its life before it expires (at least 5 s, at most 60 s). */
  const marginMs = Math.min(60_000, Math.max(5_000, ttlMs / 4));

  function account(userId: string): Account {
    let found = accounts.get(userId);
    if (found !== undefined) {
      accounts.delete(userId); // most recently used last
      accounts.set(userId, found);
      return found;
    }
    found = { current: undefined, asking: undefined, askingFor: 0 };
    accounts.set(userId, found);
    for (const [oldest, entry] of accounts) {
      if (accounts.size <= maxUsers) break;
      if (entry.asking !== undefined) continue;
      if (entry.current !== undefined) retire(entry, entry.current, undefined);
      accounts.delete(oldest);
    }
    return found;
  }

  function retire(owner: Account, hold: Hold, waitUntil: WaitUntil | undefined): void {
    hold.retired = true;
    if (owner.current === hold) owner.current = undefined;
    releaseIfDone(hold, waitUntil);
  }

  function releaseIfDone(hold: Hold, waitUntil: WaitUntil | undefined): void {
    if (!hold.retired || hold.open > 0 || hold.undelivered > 0 || hold.release !== undefined) return;
    if (hold.kept || now() >= hold.expiresAt) {
      // kept: an event naming it is still on its way (see `Hold.kept`); expired: Stoa has returned
      // its unspent part itself. Either way Stoa frees it at its expiry.
      hold.release = Promise.resolve();
      return;
    }
    hold.release = release(hold.id, waitUntil);
  }

  /** Releases hold `id` in the background (kept alive, awaited by `flush()`); a failure is reported. */
  function release(id: string, waitUntil: WaitUntil | undefined): Promise<void> {
    const work = releaseHold(options.api, id).then(
      () => undefined,
      (error: unknown) => {
        options.onError(
          new StoaConnectionError(
            `Spend hold ${id} could not be released; its unspent part returns to the balance when it expires.`,
            { cause: error instanceof StoaError ? error : undefined },
          ),
        );
      },
    );
    releases.add(work);
    void work.then(() => releases.delete(work));
    options.keepAlive(work, waitUntil);
    return work;
  }

  /** A reservation from `owner`'s live hold when it has room, else undefined; a hold past its time retires. */
  function fromCurrent(owner: Account, worst: number, waitUntil: WaitUntil | undefined): Admission | undefined {
    const hold = owner.current;
    if (hold === undefined) return undefined;
    if (now() >= hold.retireAt) {
      retire(owner, hold, waitUntil);
      return undefined;
    }
    return hold.amount - hold.committed >= worst ? reserve(hold, worst, waitUntil) : undefined;
  }

  function reserve(hold: Hold, worst: number, waitUntil: WaitUntil | undefined): Admission {
    hold.committed += worst;
    hold.open++;
    let done = false;
    return {
      kind: "held",
      holdId: hold.id,
      settle(cost, delivered, settleWaitUntil) {
        if (done) return;
        done = true;
        hold.committed += cost - worst;
        hold.open--;
        hold.undelivered++;
        const keep = settleWaitUntil ?? waitUntil;
        const after = delivered.then(
          (stored) => stored === true,
          () => false,
        );
        options.keepAlive(
          after.then((stored) => {
            if (!stored) hold.kept = true;
            hold.undelivered--;
            releaseIfDone(hold, keep);
            return hold.release;
          }),
          keep,
        );
      },
      cancel() {
        if (done) return;
        done = true;
        hold.committed -= worst;
        hold.open--;
        releaseIfDone(hold, waitUntil);
      },
    };
  }

  /** Asks for a hold within `budgetMs`; the one request of `owner` in flight until it settles. */
  function ask(
    owner: Account,
    userId: string,
    worst: number,
    waitUntil: WaitUntil | undefined,
    budgetMs: number,
  ): Promise<Asked> {
    const asking = asked(owner, userId, worst, waitUntil, budgetMs).finally(() => {
      owner.asking = undefined; // before anyone waiting on it looks again
    });
    owner.asking = asking;
    owner.askingFor = worst;
    return asking;
  }

  /** What a call gets when no hold could be had in time: let through or blocked, as `whenUnavailable` says. */
  function unavailable(userId: string, worst: number, cause: unknown): Exclude<Asked, { kind: "granted" }> {
    const allow = options.whenUnavailable === "allow";
    options.onError(
      new StoaConnectionError(
        `A spend hold for user ${JSON.stringify(userId)} could not be had; the call was ${allow ? "allowed without one" : "blocked"} (whenUnavailable: "${options.whenUnavailable}").`,
        { cause: cause instanceof StoaError ? cause : undefined },
      ),
    );
    return allow
      ? { kind: "unheld" }
      : { kind: "refused", reason: "unavailable", requiredUsd: nanosToUsd(worst), availableUsd: undefined };
  }

  async function asked(
    owner: Account,
    userId: string,
    worst: number,
    waitUntil: WaitUntil | undefined,
    budgetMs: number,
  ): Promise<Asked> {
    const wanted = Math.max(usdToNanos(options.holdUsd), worst * 4);
    const body: HoldRequest = {
      minUsd: nanosToUsd(worst),
      targetUsd: nanosToUsd(wanted),
      ttlSeconds: options.holdTtlSeconds,
    };
    const sentAt = now();
    const giveUpAt = Date.now() + budgetMs;
    let answer: GrantedHold | RefusedHold;
    try {
      answer = await holdWithin(userId, body, budgetMs, waitUntil);
      const previous = owner.current;
      if (!answer.granted && answer.reason === "insufficient_balance" && previous !== undefined && idle(previous)) {
        // the user's own idle hold keeps back what this call needs: release it, then ask once more
        retire(owner, previous, waitUntil);
        const left = giveUpAt - Date.now();
        if (previous.release !== undefined && left > 0 && (await within(previous.release, left)) !== LATE) {
          answer = await holdWithin(userId, body, giveUpAt - Date.now(), waitUntil);
        }
      }
    } catch (error) {
      // a 2026-11-01 server: the caller falls back to the chargeability check (and says so)
      if (error instanceof StoaAPIError && error.status === 404) return { kind: "unsupported" };
      throwIfRefused(error, `A spend hold for user ${JSON.stringify(userId)}`, options.onError);
      return unavailable(userId, worst, error);
    }
    if (!answer.granted) {
      return {
        kind: "refused",
        reason: answer.reason,
        requiredUsd: nanosToUsd(worst),
        availableUsd: answer.availableUsd,
      };
    }
    // from before the first request was sent: never later than Stoa's own expiry
    const expiresAt = sentAt + options.holdTtlSeconds * 1000;
    const hold: Hold = {
      id: answer.id,
      amount: usdToNanos(answer.amountUsd),
      committed: 0,
      open: 0,
      undelivered: 0,
      kept: false,
      retireAt: expiresAt - marginMs,
      expiresAt,
      retired: false,
      release: undefined,
    };
    if (owner.current !== undefined) retire(owner, owner.current, waitUntil);
    owner.current = hold;
    return { kind: "granted", mine: reserve(hold, worst, waitUntil) };
  }

  /** No call is open under `hold`, every event of it is stored, and it still holds money. */
  function idle(hold: Hold): boolean {
    return hold.open === 0 && hold.undelivered === 0 && !hold.kept && !hold.retired;
  }

  /**
   * One hold request, answered within `ms` (a turn included) or given up with
   * a `StoaConnectionError`. A given-up request runs on, keeping its turn, up
   * to `LATE_GRANT_MS`: a hold it is granted is released at once.
   */
  async function holdWithin(
    userId: string,
    body: HoldRequest,
    ms: number,
    waitUntil: WaitUntil | undefined,
  ): Promise<GrantedHold | RefusedHold> {
    const left = ms > 0 ? await options.turns.take(ms) : 0;
    if (left <= 0) throw new StoaConnectionError(`No turn for a hold request within ${Math.max(0, ms)} ms.`);
    const request = requestHold(options.api, userId, body, { timeoutMs: Math.max(left, LATE_GRANT_MS) });
    const giveTurn = () => options.turns.give();
    void request.then(giveTurn, giveTurn);
    const answer = await within(request, left);
    if (answer !== LATE) return answer;
    const dropped = request.then(
      (answer) => (answer.granted ? release(answer.id, waitUntil) : undefined),
      () => undefined,
    );
    options.keepAlive(dropped, waitUntil);
    throw new StoaConnectionError(`Stoa did not answer a hold request within ${left} ms.`);
  }

  return {
    reserveNow(userId, worst, waitUntil) {
      if (!(worst > 0)) return { kind: "unheld" }; // nothing to reserve: the call cannot cost anything
      return fromCurrent(account(userId), worst, waitUntil);
    },
    async admit(userId, worst, waitUntil, signal, timeoutMs = options.timeoutMs) {
      if (!(worst > 0)) return { kind: "unheld" }; // nothing to reserve: the call cannot cost anything
      const owner = account(userId);
      const giveUpAt = Date.now() + timeoutMs;
      for (let attempt = 1; ; attempt++) {
        const ready = fromCurrent(owner, worst, waitUntil);
        if (ready !== undefined) return ready;
        const left = giveUpAt - Date.now();
        if (left <= 0) {
          const why = `No spend hold within ${Math.max(0, timeoutMs)} ms.`;
          return unavailable(userId, worst, new StoaConnectionError(why));
        }

        const shared = owner.asking;
        if (shared !== undefined) {
          // one request per user at a time: wait for it, then look again
          const askedFor = owner.askingFor;
          const asked = await unlessAborted(shared, signal);
          if (asked.kind === "granted") continue;
          // a refusal of no more than we need is ours too; an outage or a 2026-11-01 server is everyone's
          if (asked.kind !== "refused" || askedFor <= worst) return withRequired(asked, worst);
          if (attempt < MAX_ATTEMPTS) continue;
        }
        if (owner.asking !== undefined) continue; // another call asked first: wait for that one
        // an abort gives back the reservation a grant made for this call
        const asked = await unlessAborted(ask(owner, userId, worst, waitUntil, left), signal, (late) => {
          if (late.kind === "granted" && late.mine.kind === "held") late.mine.cancel();
        });
        return asked.kind === "granted" ? asked.mine : withRequired(asked, worst);
      }
    },
    async flush() {
      for (const owner of accounts.values()) {
        if (owner.current !== undefined) retire(owner, owner.current, undefined);
      }
      // the releases under way now: not those that other calls start meanwhile, which a busy server never runs out of
      await Promise.all([...releases]);
    },
  };
}
