/**
 * The pre-flight check: may this user be charged? Answers are cached per
 * isolate for the `ttlSeconds` the API gives (bounded in size), concurrent
 * first checks for one user share one request, and at most `maxConcurrent`
 * checks are in flight per gate: the rest wait their turn, first come first
 * served, within the same timeout.
 */
import { getChargeability } from "../api/chargeability.ts";
import type { ApiClient } from "../api/types.ts";
import { type ChargeRequiredReason, StoaConnectionError, StoaError } from "../errors.ts";
import { unlessAborted } from "../util/abortable.ts";
import { createTurns, type Turns } from "../util/turns.ts";
import { throwIfRefused } from "./refused.ts";

/** What to do when Stoa cannot answer in time. */
export type WhenUnavailable = "allow" | "block";

/** The outcome of a check. */
export type GateVerdict = { allowed: true } | { allowed: false; reason: ChargeRequiredReason };

/** Options of `createChargeabilityGate`. */
export interface GateOptions {
  api: ApiClient;
  /** Longest wait for an answer, time in the queue included (default 2 000 ms). */
  timeoutMs?: number;
  /** Default `allow`: the call goes ahead and is metered; `onError` hears of it. */
  whenUnavailable?: WhenUnavailable;
  /** Users whose answers are kept (default 1 000; the oldest go first). */
  maxEntries?: number;
  /** Checks in flight at once (default 32). */
  maxConcurrent?: number;
  /** Checks waiting for a turn (default 10 000); one more is "unavailable" at once. */
  maxQueued?: number;
  /** Turns shared with the other requests made before a call (default: the gate's own). */
  turns?: Turns;
  onError(error: Error): void;
  /** Clock (tests). */
  now?: () => number;
}

/** The gate. */
export interface ChargeabilityGate {
  /**
   * Checks `userId`; a cached answer costs no round trip. When Stoa cannot
   * answer (network failure, timeout, `408`, `429`, `5xx`, an answer that is
   * not one), the verdict follows `whenUnavailable` and `onError` hears of it.
   *
   * @throws {StoaConfigError} when Stoa refuses the check itself (any other
   * `4xx`: a wrong API key or base URL, a userId it cannot take): that is
   * the app's bug, so the call is not made, and `onError` hears of it too.
   * `userId` is of the valid form (`api/user-id.ts`, checked by `stoa.fetch()`).
   * Rejects with `signal`'s reason when it aborts.
   */
  check(userId: string, signal?: AbortSignal | null): Promise<GateVerdict>;
  /** Drops the cached answer for `userId`. */
  invalidate(userId: string): void;
}

const ALLOWED: GateVerdict = { allowed: true };

/** Creates the chargeability gate. */
export function createChargeabilityGate(options: GateOptions): ChargeabilityGate {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const whenUnavailable = options.whenUnavailable ?? "allow";
  const maxEntries = options.maxEntries ?? 1_000;
  const maxConcurrent = options.maxConcurrent ?? 32;
  const maxQueued = options.maxQueued ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { verdict: GateVerdict; expiresAt: number }>();
  const pending = new Map<string, Promise<GateVerdict>>();
  const turns = options.turns ?? createTurns({ max: maxConcurrent, maxQueued, now });
  let generation = 0; // bumped by invalidate: answers to older requests are not cached

  function remember(userId: string, verdict: GateVerdict, ttlSeconds: number): void {
    if (!(ttlSeconds > 0)) return;
    cache.delete(userId);
    cache.set(userId, { verdict, expiresAt: now() + ttlSeconds * 1000 });
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  }

  function unavailable(userId: string, why: string, cause?: unknown): GateVerdict {
    options.onError(
      new StoaConnectionError(
        `The chargeability check for user ${JSON.stringify(userId)} ${why}; the call was ${whenUnavailable === "allow" ? "allowed" : "blocked"} (whenUnavailable: "${whenUnavailable}").`,
        { cause: cause instanceof StoaError ? cause : undefined },
      ),
    );
    return whenUnavailable === "allow" ? ALLOWED : { allowed: false, reason: "unavailable" };
  }

  async function ask(userId: string): Promise<GateVerdict> {
    const started = generation; // userIds reach the gate checked (`api/user-id.ts`): every one can be sent
    const left = await turns.take(timeoutMs);
    if (left <= 0) return unavailable(userId, `waited ${timeoutMs} ms for a turn (${maxConcurrent} checks in flight)`);
    let answer: Awaited<ReturnType<typeof getChargeability>>;
    try {
      answer = await getChargeability(options.api, userId, { timeoutMs: left });
    } catch (error) {
      throwIfRefused(error, `The chargeability check for user ${JSON.stringify(userId)}`, options.onError);
      return unavailable(userId, "failed", error);
    } finally {
      turns.give();
    }
    const verdict: GateVerdict = answer.chargeable
      ? ALLOWED
      : { allowed: false, reason: answer.reason ?? "payment_required" };
    if (started === generation) remember(userId, verdict, answer.ttlSeconds);
    return verdict;
  }

  return {
    check(userId, signal) {
      const hit = cache.get(userId);
      if (hit !== undefined) {
        if (hit.expiresAt > now()) return Promise.resolve(hit.verdict);
        cache.delete(userId);
      }
      let verdict = pending.get(userId);
      if (verdict === undefined) {
        const asked = ask(userId);
        verdict = asked;
        asked.then(
          () => pending.get(userId) === asked && pending.delete(userId),
          () => pending.get(userId) === asked && pending.delete(userId),
        );
        pending.set(userId, asked);
      }
      return signal ? unlessAborted(verdict, signal) : verdict;
    },
    invalidate(userId) {
      generation++;
      cache.delete(userId);
      pending.delete(userId);
    },
  };
}
