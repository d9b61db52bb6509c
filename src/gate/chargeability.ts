/**
 * The pre-flight check: may this user be charged? Answers are cached per
 * isolate for the `ttlSeconds` the API gives (bounded in size), and
 * concurrent first checks for one user share one request.
 */
import type { ApiClient } from "../api/types.ts";
import { type ChargeRequiredReason, StoaConnectionError, StoaError } from "../errors.ts";

/** What to do when Stoa cannot answer in time. */
export type WhenUnavailable = "allow" | "block";

/** The outcome of a check. */
export type GateVerdict = { allowed: true } | { allowed: false; reason: ChargeRequiredReason };

/** Options of `createChargeabilityGate`. */
export interface GateOptions {
  api: ApiClient;
  /** Longest wait for an answer (default 2 000 ms). */
  timeoutMs?: number;
  /** Default `allow`: the call goes ahead and is metered; `onError` hears of it. */
  whenUnavailable?: WhenUnavailable;
  /** Users whose answers are kept (default 1 000; the oldest go first). */
  maxEntries?: number;
  onError(error: Error): void;
  /** Clock (tests). */
  now?: () => number;
}

/** The gate. */
export interface ChargeabilityGate {
  /** Checks `userId`; a cached answer costs no round trip. Never throws but for `signal`'s abort. */
  check(userId: string, signal?: AbortSignal | null): Promise<GateVerdict>;
  /** Drops the cached answer for `userId`. */
  invalidate(userId: string): void;
}

interface Answer {
  chargeable: boolean;
  reason: ChargeRequiredReason | null;
  ttlSeconds: number;
}

const ALLOWED: GateVerdict = { allowed: true };
const REASONS = new Set(["payment_required", "insufficient_balance", "member_suspended"]);

/** Creates the chargeability gate. */
export function createChargeabilityGate(options: GateOptions): ChargeabilityGate {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const whenUnavailable = options.whenUnavailable ?? "allow";
  const maxEntries = options.maxEntries ?? 1_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { verdict: GateVerdict; expiresAt: number }>();
  const inFlight = new Map<string, Promise<GateVerdict>>();
  let generation = 0; // bumped by invalidate: answers to older requests are not cached

  function remember(userId: string, verdict: GateVerdict, ttlSeconds: number): void {
    if (!(ttlSeconds > 0)) return;
    cache.delete(userId);
    cache.set(userId, { verdict, expiresAt: now() + ttlSeconds * 1000 });
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  }

  async function ask(userId: string): Promise<GateVerdict> {
    const started = generation;
    let answer: Answer;
    try {
      answer = (await options.api.request("GET", `/v1/members/${encodeURIComponent(userId)}/chargeability`, {
        retry: false,
        timeoutMs,
      })) as Answer;
    } catch (error) {
      options.onError(
        new StoaConnectionError(
          `The chargeability check for user ${JSON.stringify(userId)} failed; the call was ${whenUnavailable === "allow" ? "allowed" : "blocked"} (whenUnavailable: "${whenUnavailable}").`,
          { cause: error instanceof StoaError ? error : undefined },
        ),
      );
      return whenUnavailable === "allow" ? ALLOWED : { allowed: false, reason: "unavailable" };
    }
    const verdict: GateVerdict =
      answer.chargeable === true
        ? ALLOWED
        : {
            allowed: false,
            reason: REASONS.has(String(answer.reason)) ? (answer.reason as ChargeRequiredReason) : "payment_required",
          };
    if (started === generation) remember(userId, verdict, Number(answer.ttlSeconds));
    return verdict;
  }

  return {
    check(userId, signal) {
      const hit = cache.get(userId);
      if (hit !== undefined) {
        if (hit.expiresAt > now()) return Promise.resolve(hit.verdict);
        cache.delete(userId);
      }
      let pending = inFlight.get(userId);
      if (pending === undefined) {
        pending = ask(userId).finally(() => inFlight.delete(userId));
        inFlight.set(userId, pending);
      }
      return signal ? raceAbort(pending, signal) : pending;
    },
    invalidate(userId) {
      generation++;
      cache.delete(userId);
      inFlight.delete(userId);
    },
  };
}

/** `promise`, or the abort reason of `signal` if it fires first. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
