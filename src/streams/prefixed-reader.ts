/**
 * A reader over a body whose first chunks were already read: it gives those
 * chunks, then the read that was in flight (if any), then reads on from the
 * upstream reader. What the metering fetch hands to a JSON body it began to
 * read itself and then serves chunk by chunk (see `meter/json.ts`).
 */

/** What the JSON body's source reads from: `read` and `cancel` of a stream reader. */
export type ChunkReader = Pick<ReadableStreamDefaultReader<Uint8Array>, "read" | "cancel">;

/**
 * `upstream` with `parts` in front of it, then `pending` (a read of `upstream`
 * already made, whose result comes next). Cancelling drops the parts not yet
 * given and cancels the upstream.
 */
export function prefixedReader(
  parts: Uint8Array[],
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined,
  upstream: ChunkReader,
): ChunkReader {
  let next = 0;
  let inFlight = pending;
  return {
    read() {
      if (next < parts.length) {
        const value = parts[next] as Uint8Array;
        parts[next++] = EMPTY; // given: no longer held here
        return Promise.resolve({ done: false, value });
      }
      if (inFlight !== undefined) {
        const read = inFlight;
        inFlight = undefined;
        return read;
      }
      return upstream.read();
    },
    cancel(reason) {
      parts.length = 0;
      next = 0;
      return upstream.cancel(reason);
    },
  };
}

const EMPTY = new Uint8Array(0);
