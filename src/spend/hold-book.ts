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
import { type GrantedHold, type RefusedHold, releaseHold, requestHold } from "../api/holds.ts";
import type { ApiClient } from "../api/types.ts";
import { type ChargeRequiredReason, StoaAPIError, StoaConnectionError, StoaError } from "../errors.ts";
import { throwIfRefused } from "../gate/refused.ts";
import type { WaitUntil } from "../runtime.ts";
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
  /** Longest wait for a hold request, a turn included. */
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
      settle(costNanos: number, delivered: Promise<unknown>, waitUntil?: WaitUntil): void;
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
   * Reserves `worstNanos` for a call of `userId`. Throws only a
   * `StoaConfigError`, when Stoa refuses the hold request itself (a 4xx other
   * than 404, 408 and 429: a bad key), which is the app's to fix.
   */
  admit(userId: string, worstNanos: number, waitUntil?: WaitUntil): Promise<Admission>;
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
    if (now() >= hold.expiresAt) {
      hold.release = Promise.resolve(); // expired: Stoa has returned its unspent part itself
      return;
    }
    const work = releaseHold(options.api, hold.id).then(
      () => undefined,
      (error: unknown) => {
        options.onError(
          new StoaConnectionError(
            `Spend hold ${hold.id} could not be released; its unspent part returns to the balance when it expires.`,
            { cause: error instanceof StoaError ? error : undefined },
          ),
        );
      },
    );
    hold.release = work;
    releases.add(work);
    void work.then(() => releases.delete(work));
    options.keepAlive(work, waitUntil);
  }

  /** A reservation from `owner`'s live hold when it has room, else undefined; a hold past its time retires. */
  function fromCurrent(owner: Account, worst: number, waitUntil: WaitUntil | undefined): Admission | undefined {
    const hold = owner.current;
    if (hold === undefined) return undefined;
    if (now() >= hold.retireAt) {
      retire(owner, hold, waitUntil);
      return undefined;
    }
    return hold.amount - hold.committed >= worst ? reserve(hold, worst) : undefined;
  }

  function reserve(hold: Hold, worst: number): Admission {
    hold.committed += worst;
    hold.open++;
    let done = false;
    return {
      kind: "held",
      holdId: hold.id,
      settle(cost, delivered, waitUntil) {
        if (done) return;
        done = true;
        hold.committed += cost - worst;
        hold.open--;
        hold.undelivered++;
        const after = delivered.then(
          () => undefined,
          () => undefined,
        );
        options.keepAlive(
          after.then(() => {
            hold.undelivered--;
            releaseIfDone(hold, waitUntil);
            return hold.release;
          }),
          waitUntil,
        );
      },
      cancel() {
        if (done) return;
        done = true;
        hold.committed -= worst;
        hold.open--;
        releaseIfDone(hold, undefined);
      },
    };
  }

  /** Asks for a hold; the one request of `owner` in flight until it settles. */
  function ask(owner: Account, userId: string, worst: number, waitUntil: WaitUntil | undefined): Promise<Asked> {
    const asking = asked(owner, userId, worst, waitUntil).finally(() => {
      owner.asking = undefined; // before anyone waiting on it looks again
    });
    owner.asking = asking;
    owner.askingFor = worst;
    return asking;
  }

  async function asked(
    owner: Account,
    userId: string,
    worst: number,
    waitUntil: WaitUntil | undefined,
  ): Promise<Asked> {
    const wanted = Math.max(usdToNanos(options.holdUsd), worst * 4);
    const sentAt = now();
    const left = await options.turns.take(options.timeoutMs);
    let answer: GrantedHold | RefusedHold;
    try {
      if (left <= 0) throw new StoaConnectionError(`No turn for a hold request within ${options.timeoutMs} ms.`);
      answer = await requestHold(
        options.api,
        userId,
        { minUsd: nanosToUsd(worst), targetUsd: nanosToUsd(wanted), ttlSeconds: options.holdTtlSeconds },
        { timeoutMs: left },
      );
    } catch (error) {
      // a 2026-11-01 server: the caller falls back to the chargeability check (and says so)
      if (error instanceof StoaAPIError && error.status === 404) return { kind: "unsupported" };
      throwIfRefused(error, `A spend hold for user ${JSON.stringify(userId)}`, options.onError);
      const allow = options.whenUnavailable === "allow";
      options.onError(
        new StoaConnectionError(
          `A spend hold for user ${JSON.stringify(userId)} could not be had; the call was ${allow ? "allowed without one" : "blocked"} (whenUnavailable: "${options.whenUnavailable}").`,
          { cause: error instanceof StoaError ? error : undefined },
        ),
      );
      return allow
        ? { kind: "unheld" }
        : { kind: "refused", reason: "unavailable", requiredUsd: nanosToUsd(worst), availableUsd: undefined };
    } finally {
      if (left > 0) options.turns.give();
    }
    if (!answer.granted) {
      return {
        kind: "refused",
        reason: answer.reason,
        requiredUsd: nanosToUsd(worst),
        availableUsd: answer.availableUsd,
      };
    }
    const expiresAt = sentAt + options.holdTtlSeconds * 1000;
    const hold: Hold = {
      id: answer.id,
      amount: usdToNanos(answer.amountUsd),
      committed: 0,
      open: 0,
      undelivered: 0,
      retireAt: expiresAt - marginMs,
      expiresAt,
      retired: false,
      release: undefined,
    };
    if (owner.current !== undefined) retire(owner, owner.current, waitUntil);
    owner.current = hold;
    return { kind: "granted", mine: reserve(hold, worst) };
  }

  return {
    reserveNow(userId, worst, waitUntil) {
      if (!(worst > 0)) return { kind: "unheld" }; // nothing to reserve: the call cannot cost anything
      return fromCurrent(account(userId), worst, waitUntil);
    },
    async admit(userId, worst, waitUntil) {
      if (!(worst > 0)) return { kind: "unheld" }; // nothing to reserve: the call cannot cost anything
      const owner = account(userId);
      for (let attempt = 1; ; attempt++) {
        const ready = fromCurrent(owner, worst, waitUntil);
        if (ready !== undefined) return ready;

        const shared = owner.asking;
        if (shared !== undefined) {
          // one request per user at a time: wait for it, then look again
          const askedFor = owner.askingFor;
          const asked = await shared;
          if (asked.kind === "granted") continue;
          // a refusal of no more than we need is ours too; an outage or a 2026-11-01 server is everyone's
          if (asked.kind !== "refused" || askedFor <= worst) return withRequired(asked, worst);
          if (attempt < MAX_ATTEMPTS) continue;
        }
        if (owner.asking !== undefined) continue; // another call asked first: wait for that one
        const asked = await ask(owner, userId, worst, waitUntil);
        return asked.kind === "granted" ? asked.mine : withRequired(asked, worst);
      }
    },
    async flush() {
      for (const owner of accounts.values()) {
        if (owner.current !== undefined) retire(owner, owner.current, undefined);
      }
      while (releases.size > 0) await Promise.all(releases);
    },
  };
}
