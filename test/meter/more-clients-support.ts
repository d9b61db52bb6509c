/** Shared by the more-clients tests: the fake's base URL, a metering fetch, and normalised usage. */
import { inject } from "vitest";
import type { StoaProvider } from "../../src/index.ts";
import type { MeterRun } from "../support/meter.ts";

/** `<fakeBase>/m`: test/support/fake-provider-more.ts, served over HTTP by the global setup. */
export const FAKE = `${inject("fakeBase")}/m`;

export { usage } from "../providers/drive.ts";

/** The run's metering fetch for `provider`, forwarding to the global fetch. */
export function metered(run: MeterRun, provider: StoaProvider) {
  return run.stoa.fetch({ provider, userId: "user_123" });
}
