/**
 * Two projects run the same tests: `node` (Node 22) and `workers` (workerd,
 * through @cloudflare/vitest-plugin); a third, `edge`, runs test/edge-only/
 * inside Vercel's EdgeRuntime, and a fourth, `e2e`, runs test/e2e/ (the chat
 * app and the local Stoa server under `npm run dev`, driven in chromium).
 * One global setup serves the fake provider and the local Stoa server on
 * 127.0.0.1 for all (`inject("fakeBase")`).
 */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";
import { quietDeliberateWorkerdLogs, quietSourcemaps } from "./test/support/quiet-output.ts";

// a passing run is quiet: workerd's logs of the failures tests cause on purpose are dropped
quietDeliberateWorkerdLogs();

/** The newest date the installed workerd (1.20261102.x) supports. */
const COMPATIBILITY_DATE = "2026-11-01";

const TESTS = ["test/**/*.test.ts"];
const NODE_ONLY = "test/node-only/**";
const WORKERS_ONLY = "test/workers-only/**";
const EDGE_ONLY = "test/edge-only/**";
const E2E = "test/e2e/**";

export default defineConfig({
  // a passing run is quiet: no warning for dependencies' source maps without sources
  plugins: [quietSourcemaps()],
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          environment: "node",
          include: TESTS,
          exclude: [...configDefaults.exclude, WORKERS_ONLY, EDGE_ONLY, E2E],
        },
      },
      {
        // the whole product in a real browser: `npm run dev`'s two workers and Debian's chromium
        extends: true,
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: "edge",
          // Vercel's EdgeRuntime (@edge-runtime/vm): with vmForks the tests run inside its context
          environment: "edge-runtime",
          pool: "vmForks",
          include: ["test/edge-only/**/*.test.ts"],
        },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            // its queue() consumes the queues below (test/delivery/queue.workers.test.ts)
            main: "./test/support/queue-worker.ts",
            miniflare: {
              // durable delivery: real Miniflare queues (in memory, delays in real seconds)
              queueProducers: {
                STOA_EVENTS: { queueName: "stoa-events" },
                STOA_DOOMED: { queueName: "stoa-doomed" },
                STOA_CRASH: { queueName: "stoa-crash" },
                CHAT_EVENTS: { queueName: "chat-events" }, // the chat app's STOA_EVENTS (chat-app-queue.test.ts)
              },
              queueConsumers: {
                "stoa-events": { maxBatchSize: 100, maxBatchTimeout: 0.1, maxRetries: 50, deadLetterQueue: "stoa-dlq" },
                "stoa-doomed": { maxBatchSize: 100, maxBatchTimeout: 0.1, maxRetries: 2, deadLetterQueue: "stoa-dlq" },
                "stoa-crash": { maxBatchSize: 100, maxBatchTimeout: 0.1, maxRetries: 3, deadLetterQueue: "stoa-dlq" },
                "chat-events": { maxBatchSize: 100, maxBatchTimeout: 0.1, maxRetries: 10, deadLetterQueue: "stoa-dlq" },
                "stoa-dlq": { maxBatchSize: 100, maxBatchTimeout: 0.1, maxRetries: 50 },
              },
              compatibilityDate: COMPATIBILITY_DATE,
              // No nodejs_compat asked for. Inside this pool Node APIs exist anyway:
              // the plugin adds nodejs_compat_v2 for vitest itself (and the date is
              // past 2026-08-04, when nodejs_compat became the default), even with
              // "no_nodejs_compat". Web-only src/ is enforced by tsconfig.src.json.
              compatibilityFlags: [],
            },
          }),
        ],
        test: {
          name: "workers",
          include: TESTS,
          exclude: [...configDefaults.exclude, NODE_ONLY, EDGE_ONLY, E2E],
          isolate: false,
        },
      },
    ],
  },
});
