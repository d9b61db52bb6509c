/**
 * The `main` Worker of the workers test project: its `queue()` handler is
 * the consumer of the real (Miniflare) queues that vitest.config.ts binds.
 * It runs in the tests' isolate, so a test installs the handler for a queue
 * in {@link queueHandlers}; a batch of a queue with none is retried.
 */

/** A queue batch as the runtime hands it over. */
export type QueueHandler = (batch: MessageBatch<unknown>) => Promise<void>;

/** The handler of each queue, by queue name, set by the test that uses it. */
export const queueHandlers = new Map<string, QueueHandler>();

export default {
  async fetch(): Promise<Response> {
    return new Response("the test worker only consumes queues", { status: 404 });
  },
  async queue(batch: MessageBatch<unknown>): Promise<void> {
    const handler = queueHandlers.get(batch.queue);
    if (handler === undefined) {
      batch.retryAll({ delaySeconds: 1 });
      return;
    }
    await handler(batch);
  },
};
