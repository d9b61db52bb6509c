/**
 * Cutting a list of usage events into request bodies that the contract
 * accepts: at most `maxCount` events and `maxBytes` of UTF-8 JSON each.
 * The limits themselves are the contract's, in `api/usage-events.ts`.
 */
import { ENVELOPE_BYTES } from "../api/usage-events.ts";

/**
 * Packs items, in order, into batches of at most `maxCount` items whose body
 * `{"events":[a,b,…]}` is at most `maxBytes`. `bytes` is each item's JSON
 * size. An item too large to fit even alone must be removed beforehand.
 */
export function packBatches<T>(
  items: readonly { item: T; bytes: number }[],
  maxCount: number,
  maxBytes: number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = ENVELOPE_BYTES;
  for (const { item, bytes } of items) {
    if (current.length > 0 && (current.length === maxCount || size + 1 + bytes > maxBytes)) {
      batches.push(current);
      current = [];
      size = ENVELOPE_BYTES;
    }
    size += current.length === 0 ? bytes : bytes + 1;
    current.push(item);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
