/**
 * The local Stoa server keeps its state across restarts of `wrangler dev`:
 * its Durable Object's SQLite lives in the persist folder.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LocalStoa, startLocalStoa } from "../support/local-stoa.ts";
import { STOA_HEADERS } from "../support/stoa.ts";
import { usageEvent } from "../support/usage-event.ts";

const HEADERS = { ...STOA_HEADERS, authorization: "Bearer sk_restart" };

let server: LocalStoa | undefined;
const folder = await mkdtemp(join(tmpdir(), "stoa-restart-"));

afterAll(async () => {
  await server?.stop();
  await rm(folder, { recursive: true, force: true });
});

async function send(path: string, init: RequestInit = {}): Promise<Response> {
  return (server as LocalStoa).fetch(new Request(`http://stoa.local${path}`, init));
}

describe("the local Stoa server in workerd", () => {
  it("keeps projects, members, events and stored idempotent answers across a restart", async () => {
    server = await startLocalStoa("workerd", folder);
    await send("/admin/projects/r", { method: "PUT", body: JSON.stringify({ apiKey: "sk_restart" }) });
    await send("/admin/projects/r/members/ada", { method: "PUT", body: JSON.stringify({ paid: true, balanceUsd: 3 }) });
    const events = [usageEvent({ userId: "ada" })];
    const post = () =>
      send("/t/r/api/v1/usage/events", {
        method: "POST",
        headers: { ...HEADERS, "idempotency-key": "restart-1" },
        body: JSON.stringify({ events }),
      });
    expect(await (await post()).json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await server.stop();
    server = undefined;

    server = await startLocalStoa("workerd", folder);
    // the same key and body: the stored answer, not a duplicate count
    expect(await (await post()).json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const stored = (await (await send("/admin/projects/r/events")).json()) as { id: string }[];
    expect(stored.map((e) => e.id)).toEqual([events[0]?.id]);
    const members = (await (await send("/admin/projects/r/members")).json()) as Record<string, { paid: boolean }>;
    // $3 less 12 input and 34 output tokens of gpt-4o-mini: 1.8 + 20.4 µ$
    expect(members.ada).toMatchObject({ paid: true, balanceUsd: 2.9999778 });
    const check = await send("/t/r/api/v1/members/ada/chargeability", { headers: HEADERS });
    expect(await check.json()).toMatchObject({ chargeable: true });
  }, 60_000);
});
