/**
 * The body a metered response hands to the app: one pull-through
 * `ReadableStream` over a `PullSource`, served two ways.
 *
 * - The stream's `pull`: every native consumer (`new Response(body)`,
 *   `text()`, `clone()`, `tee()`, `pipeTo`/`pipeThrough`, a reader released
 *   and then piped) reads through it.
 * - Instance-level overrides of `getReader()`, `values()` and
 *   `[Symbol.asyncIterator]` on this one body: a reader's `read()` calls the
 *   source directly, skipping the stream's per-chunk machinery (most of a JS
 *   stream's cost in workerd). The reader is the stream's own, so locking,
 *   `releaseLock()`, `closed` and `cancel()` stay genuine.
 *
 * Both ways call the one `next()` of the source, one call at a time, so each
 * byte is read from upstream once whichever way the app reads. The first
 * read always goes through `pull`, which marks the stream as read (a read
 * body cannot be handed to `new Response()` again).
 *
 * It is a default stream, not a byte stream: its readers are default
 * readers, and `getReader({ mode: "byob" })` throws a `TypeError`, as it
 * does for any default stream. BYOB is not supported.
 */

/** One read of a body: a chunk, or done. */
type ReadResult = ReadableStreamReadResult<Uint8Array>;

/**
 * What a served body reads: one chunk per `next()`, never called twice at once.
 * `next` hands the chunk to `settle` (a failure to `fail`) and resolves to
 * what it returns, so that the served body's own step runs inside the
 * source's one async read rather than in a second async layer per chunk.
 */
export interface PullSource {
  /** Reads the next chunk (or done) into `settle`, a failure of the body into `fail`. */
  next<T>(settle: (result: ReadResult) => T, fail: (error: unknown) => T): Promise<T>;
  /** The app cancelled the body. */
  cancel(reason: unknown): Promise<void> | void;
  /**
   * The meter stops a read of its own that passed its `bound` (see
   * `guardSource`): the body ends there, the upstream cancelled with
   * `reason`. Without it, `cancel` stands in.
   */
  stop?(bound: "time" | "bytes", reason: unknown): Promise<void> | void;
}

/** A `settle` that keeps the result as it is. */
export const asRead = (result: ReadResult): ReadResult => result;

/** A `fail` that rejects with the body's failure. */
export const rethrow = (error: unknown): never => {
  throw error;
};

const DONE: ReadResult = { done: true, value: undefined };

/** Whether a reader of a served body still holds its lock. */
interface Lock {
  held: boolean;
}

/** A `PullSource` over a stream reader, as it is. */
export function readerSource(reader: ReadableStreamDefaultReader<Uint8Array>): PullSource {
  return {
    async next(settle, fail) {
      let result: ReadResult;
      try {
        result = await reader.read();
      } catch (error) {
        return fail(error);
      }
      return settle(result);
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/** The body the app reads: a `ReadableStream` over `source`, its readers served from `source` directly. */
export function servedBody(source: PullSource): ReadableStream<Uint8Array> {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let started = false; // a read went through `pull`: the stream is marked as read
  let over = false; // the source ended, failed, or the app cancelled: reads go the native way
  let busy = false; // a `next()` is in flight
  let queued = false; // a pull enqueued a chunk no read was waiting for: reads stay native from then on
  const waiting: (() => void)[] = []; // pulls waiting for a direct read in flight

  /** Ends a `next()`: the next waiting pull may go. */
  function idle(): void {
    busy = false;
    waiting.shift()?.();
  }

  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      async pull(c) {
        started = true;
        while (busy) await new Promise<void>((resolve) => waiting.push(resolve));
        if (over) return;
        busy = true;
        let result: ReadResult;
        try {
          result = await source.next(asRead, rethrow);
        } catch (error) {
          idle();
          if (!over) {
            over = true;
            c.error(error);
          }
          return;
        }
        idle();
        if (over) return;
        if (result.done) {
          over = true;
          c.close();
        } else {
          c.enqueue(result.value);
          // the reader was released while this pull ran: the chunk waits in the queue, ahead of any direct read
          if ((c.desiredSize ?? 0) < 0) queued = true;
        }
      },
      cancel(reason) {
        over = true;
        return source.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );

  /** Whether a read may skip the stream: after the first pull, before the end, nothing queued, no read in flight. */
  function direct(): boolean {
    return started && !over && !busy && !queued;
  }

  /**
   * A reader's way to read the source directly (see `directRead`): its steps
   * after the chunk arrives, made once per reader. `release` (an iterator's)
   * lets go of the reader at the end. If the reader is released while the
   * read is in flight, the read fails as a native one does and its chunk
   * stays with the stream, for the next reader.
   */
  function directSteps(lock: Lock, release?: () => void) {
    return {
      settle(result: ReadResult): ReadResult {
        if (!lock.held && !result.done && !over) {
          controller?.enqueue(result.value);
          if ((controller?.desiredSize ?? 0) < 0) queued = true;
          idle();
          throw new TypeError("The reader was released while it read.");
        }
        idle();
        if (over)
          result = DONE; // cancelled while the read was in flight
        else if (result.done) {
          over = true;
          controller?.close();
        }
        if (result.done) release?.();
        return result;
      },
      fail(error: unknown): ReadResult {
        idle();
        if (over) {
          // cancelled while the read was in flight: it ends as done, as a native read does, whatever
          // the source's read then met (workerd fails a read pending at a cancel with its reason)
          release?.();
          return DONE;
        }
        over = true;
        controller?.error(error);
        release?.();
        throw error;
      },
    };
  }

  /** A read served from the source, settling the stream itself when the source ends or fails. */
  function directRead(steps: ReturnType<typeof directSteps>): Promise<ReadResult> {
    busy = true;
    return source.next(steps.settle, steps.fail);
  }

  const nativeGetReader = stream.getReader as (options?: { mode: "byob" }) => unknown;
  type AnyReader = ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  /** The stream's own reader, its `read` served directly when it can be, and whether it still holds the lock. */
  function lockedReader(): { reader: ReadableStreamDefaultReader<Uint8Array>; lock: Lock } {
    const reader = nativeGetReader.call(stream) as ReadableStreamDefaultReader<Uint8Array>;
    const nativeRead = reader.read;
    const nativeRelease = reader.releaseLock;
    const lock: Lock = { held: true };
    const steps = directSteps(lock);
    // the native way before the first pull, once settled, after a release, with chunks queued or a read in flight
    reader.read = () => (lock.held && direct() ? directRead(steps) : nativeRead.call(reader));
    reader.releaseLock = () => {
      lock.held = false;
      nativeRelease.call(reader);
    };
    return { reader, lock };
  }

  function getReader(options?: { mode?: "byob" }): AnyReader {
    // the stream's own answer: a BYOB reader of a default stream throws a TypeError
    if (options?.mode !== undefined)
      return (nativeGetReader as (o: { mode: "byob" }) => AnyReader).call(stream, options as { mode: "byob" });
    return lockedReader().reader;
  }

  function values(options?: { preventCancel?: boolean }): AsyncIterableIterator<Uint8Array> {
    const { reader, lock } = lockedReader();
    const nativeRead = Object.getPrototypeOf(reader).read as () => Promise<ReadableStreamReadResult<Uint8Array>>;
    const preventCancel = options?.preventCancel === true;
    let finished = false;
    const release = () => {
      finished = true;
      reader.releaseLock();
    };
    const steps = directSteps(lock, release);
    async function slowNext(): Promise<IteratorResult<Uint8Array>> {
      try {
        const result = await nativeRead.call(reader);
        if (result.done) release();
        return result as IteratorResult<Uint8Array>;
      } catch (error) {
        release();
        throw error;
      }
    }
    return {
      next(): Promise<IteratorResult<Uint8Array>> {
        if (finished) return Promise.resolve(DONE as IteratorResult<Uint8Array>);
        return (lock.held && direct() ? directRead(steps) : slowNext()) as Promise<IteratorResult<Uint8Array>>;
      },
      async return(value?: unknown) {
        if (!finished) {
          finished = true;
          if (preventCancel) reader.releaseLock();
          else {
            const cancelled = reader.cancel(value);
            reader.releaseLock();
            await cancelled;
          }
        }
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  Object.defineProperties(stream, {
    getReader: { value: getReader, writable: true, configurable: true },
    values: { value: values, writable: true, configurable: true },
    [Symbol.asyncIterator]: { value: values, writable: true, configurable: true },
  });
  return stream;
}
