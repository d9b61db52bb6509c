/**
 * Finding a `waitUntil` when the app passed none: Vercel's request context,
 * which Vercel Functions and Edge put on a global symbol.
 */
import type { WaitUntil } from "../runtime.ts";

const VERCEL_CONTEXT = Symbol.for("@vercel/request-context");

interface VercelRequestContext {
  waitUntil?: WaitUntil;
}

/**
 * The current Vercel request context when it offers a `waitUntil`, else
 * `undefined`. The context object is per request, so it keys a lane; call
 * its `waitUntil` as a method.
 */
export function vercelRequestContext(): { waitUntil: WaitUntil } | undefined {
  try {
    const store = (globalThis as { [VERCEL_CONTEXT]?: { get?: () => VercelRequestContext | undefined } })[
      VERCEL_CONTEXT
    ];
    const context = store?.get?.();
    return typeof context?.waitUntil === "function" ? (context as { waitUntil: WaitUntil }) : undefined;
  } catch {
    return undefined;
  }
}
