/**
 * Drives a provider module directly, as the metering fetch does: request
 * facts, SSE event data strings fed one by one, and the usage read.
 */
import { requestFacts } from "../../src/meter/request.ts";
import type { Provider, Reading, RequestFacts } from "../../src/providers/types.ts";
import { emptyUsage, type Usage } from "../../src/usage.ts";

/** Request facts as the meter builds them, run through the provider's `prepare`. */
export function factsFor(
  provider: Provider,
  pathname: string,
  body: Record<string, unknown> = {},
): { facts: RequestFacts; sent: string | undefined } {
  const endpoint = provider.endpoint(pathname);
  if (endpoint === undefined) throw new Error(`${provider.id} does not meter ${pathname}`);
  const { facts, rewritten } = requestFacts(provider, endpoint, pathname, body, JSON.stringify(body));
  return { facts, sent: rewritten };
}

/** Feeds each event's data to a stream reader; returns the reading, which events were dropped, and `done` after each. */
export function readEvents(
  provider: Provider,
  facts: RequestFacts,
  events: string[],
): { reading: Reading; dropped: number[]; doneAt: number | undefined } {
  const reader = provider.readStream(facts);
  const dropped: number[] = [];
  let doneAt: number | undefined;
  events.forEach((data, i) => {
    if (reader.event(data, data.length, undefined)) dropped.push(i);
    if (reader.done && doneAt === undefined) doneAt = i;
  });
  return { reading: reader.reading(), dropped, doneAt };
}

/** A full `Usage`, unspecified counts 0. */
export function usage(fields: Partial<Usage>): Usage {
  return { ...emptyUsage(), ...fields };
}
