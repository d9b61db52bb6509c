/**
 * The local Stoa server: the API (api.ts), a stand-in checkout, the usage
 * pages, and a small operator API, over one {@link Ledger}. The same app
 * runs in a Durable Object under `wrangler dev` (worker.ts) and in Node for
 * the test suite.
 *
 * Routes:
 * - `/api/v1/…` the default project's API; `/t/:project/api/v1/…` another project's.
 * - `GET /`, `/users/:userId`, `/prices` (and under `/t/:project`): usage pages.
 * - `GET /checkout/:id` the checkout page; `POST /checkout/:id` ("pay",
 *   form field `amountUsd`) completes the session, adds the balance and
 *   redirects to `returnUrl` with `stoa_session_id` (a JSON answer instead
 *   for `accept: application/json`).
 * - Operator API, JSON, no auth (the server listens on 127.0.0.1 only):
 *   `PUT /admin/projects/:project` `{apiKey, registrationSecret, chargeabilityTtl, chargeAll, clockOffsetMs}`
 *   (`clockOffsetMs` moves the project's clock, for tests of expiry),
 *   `PUT /admin/projects/:project/members/:userId` `{balanceUsd, paid, suspended}`,
 *   `GET /admin/projects/:project/members` (records by user id), `GET /admin/projects/:project/events`.
 */
import { type Context, Hono } from "hono";
import { createApi } from "./api.ts";
import { json } from "./http.ts";
import type { Ledger, Project } from "./ledger.ts";
import { renderCheckout } from "./pages/checkout.ts";
import { renderMember } from "./pages/member.ts";
import { renderMessage } from "./pages/message.ts";
import { renderOverview } from "./pages/overview.ts";
import { renderPrices } from "./pages/prices.ts";
import type { Bucket } from "./pages/types.ts";
import { isObject } from "./validate.ts";

/** The id of the project served at `/api`. */
export const DEFAULT_PROJECT = "local";
/** The amounts checkout offers, in USD. */
export const TOP_UP_AMOUNTS = [5, 10, 25];
const DAY_MS = 86_400_000;

/** Options of {@link createStoaServer}. */
export interface StoaServerOptions {
  ledger: Ledger;
  /** Settings the default project is kept in step with (from the environment). */
  defaultProject?: { apiKey: string; registrationSecret: string };
  now?: () => number;
}

/** The whole local Stoa server as a Hono app. */
export function createStoaServer({ ledger, defaultProject, now = Date.now }: StoaServerOptions): Hono {
  const app = new Hono();
  let synced = false;

  const projectOf = (c: Context): Project | undefined => {
    const id = c.req.param("project") ?? DEFAULT_PROJECT;
    if (id === DEFAULT_PROJECT && defaultProject !== undefined && !synced) {
      const current = ledger.project(id);
      if (
        current?.apiKey !== defaultProject.apiKey ||
        current.registrationSecret !== defaultProject.registrationSecret
      ) {
        ledger.putProject(id, defaultProject, now());
      }
      synced = true;
    }
    return ledger.project(id);
  };

  const api = createApi({ ledger, project: projectOf, now });
  app.route("/api", api);
  app.route("/t/:project/api", api);

  // usage pages, for the default project and for /t/:project
  for (const base of ["", "/t/:project"]) {
    app.get(`${base}/`, (c) => {
      const p = projectOf(c);
      if (p === undefined) return page(renderMessage("No such project", "This project does not exist.", 404), 404);
      const { from, to, bucket } = chartWindow(ledger.firstEventAt(p.id), now());
      return page(
        renderOverview({
          project: p.id,
          base: basePath(p),
          members: ledger.members(p),
          totals: ledger.totals(p.id, 0, to),
          series: ledger.series(p.id, undefined, from, to, bucket),
          bucket,
        }),
      );
    });
    app.get(`${base}/users/:userId`, (c) => {
      const p = projectOf(c);
      const userId = c.req.param("userId");
      const member = p === undefined ? undefined : ledger.memberRow(p, userId);
      if (p === undefined || member === undefined) {
        return page(renderMessage("No such user", `No member or usage for ${userId}.`, 404), 404);
      }
      const at = now() + p.clockOffsetMs;
      const { from, to, bucket } = chartWindow(ledger.firstEventAt(p.id, userId), at);
      const summary = ledger.usageSummary(p.id, userId, 0, to);
      const { balanceUsd, heldUsd, availableUsd } = ledger.balance(p, userId, at);
      return page(
        renderMember({
          project: p.id,
          base: basePath(p),
          member,
          spend: { balanceUsd, heldUsd, availableUsd },
          holds: ledger.liveHolds(p.id, userId, at),
          totals: { events: summary.events, usage: summary.usage, costUsd: summary.costUsd ?? 0 },
          byModel: summary.byModel,
          series: ledger.series(p.id, userId, from, to, bucket),
          bucket,
          recent: ledger.recentEvents(p.id, userId, 50),
        }),
      );
    });
    app.get(`${base}/prices`, (c) => {
      const p = projectOf(c);
      if (p === undefined) return page(renderMessage("No such project", "This project does not exist.", 404), 404);
      return page(renderPrices({ project: p.id, base: basePath(p), prices: [...ledger.prices] }));
    });
  }

  /** The time in the project of session `id`. */
  const sessionNow = (id: string) => ledger.projectNow(ledger.sessionProject(id) ?? "", now());

  app.get("/checkout/:id", (c) => {
    const id = c.req.param("id");
    const record = ledger.getSession(id, new URL(c.req.url).origin, sessionNow(id));
    if (record === undefined)
      return page(renderMessage("No such checkout", "This payment session does not exist.", 404), 404);
    const p = ledger.project(record.project) as Project;
    const member = ledger.memberRow(p, record.userId);
    return page(
      renderCheckout({
        sessionId: record.id,
        userId: record.userId,
        name: member?.name ?? null,
        email: member?.email ?? null,
        status: record.status,
        balanceUsd: member?.balanceUsd ?? 0,
        amounts: TOP_UP_AMOUNTS,
        action: `/checkout/${encodeURIComponent(record.id)}`,
        returnUrl: record.returnUrl,
        expiresAt: record.expiresAt,
      }),
    );
  });

  app.post("/checkout/:id", async (c) => {
    const wantsJson = (c.req.header("accept") ?? "").includes("application/json");
    const amount = await amountOf(c.req.raw);
    if (amount === undefined || !(amount > 0 && amount <= 10_000)) {
      return wantsJson
        ? json(400, {
            error: { type: "invalid_request", code: "invalid_request", message: "amountUsd: 0 < amount ≤ 10000" },
          })
        : page(renderMessage("Invalid amount", "Pick an amount between $0 and $10,000.", 400), 400);
    }
    const id = c.req.param("id");
    const result = ledger.completeSession(id, amount, new URL(c.req.url).origin, sessionNow(id));
    if (result === undefined) {
      return wantsJson
        ? json(404, { error: { type: "not_found", code: "not_found", message: "No such payment session." } })
        : page(renderMessage("No such checkout", "This payment session does not exist.", 404), 404);
    }
    if (!result.completed) {
      const message = `This payment session is ${result.session.status}.`;
      return wantsJson
        ? json(409, { error: { type: "invalid_request", code: "invalid_request", message } })
        : c.redirect(`/checkout/${encodeURIComponent(result.session.id)}`, 303);
    }
    if (wantsJson) return json(200, result.session);
    const target = new URL(result.session.returnUrl);
    target.searchParams.set("stoa_session_id", result.session.id);
    return c.redirect(target.href, 303);
  });

  app.put("/admin/projects/:project", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    if (!isObject(body)) return json(400, { error: "a JSON object" });
    const { apiKey, registrationSecret, chargeabilityTtl, chargeAll, clockOffsetMs } = body;
    const settings = {
      ...(typeof apiKey === "string" && { apiKey }),
      ...(typeof registrationSecret === "string" && { registrationSecret }),
      ...(typeof chargeabilityTtl === "number" && { chargeabilityTtl }),
      ...(typeof chargeAll === "boolean" && { chargeAll }),
      ...(Number.isSafeInteger(clockOffsetMs) && { clockOffsetMs: clockOffsetMs as number }),
    };
    return json(200, ledger.putProject(c.req.param("project"), settings, now()));
  });

  app.put("/admin/projects/:project/members/:userId", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    if (!isObject(body)) return json(400, { error: "a JSON object" });
    const { balanceUsd, paid, suspended } = body;
    const p = c.req.param("project");
    if (ledger.project(p) === undefined) return json(404, { error: "no such project" });
    ledger.seedMember(
      p,
      c.req.param("userId"),
      {
        ...(typeof balanceUsd === "number" && { balanceUsd }),
        ...(typeof paid === "boolean" && { paid }),
        ...(typeof suspended === "boolean" && { suspended }),
      },
      now(),
    );
    return json(200, { ok: true });
  });

  app.get("/admin/projects/:project/members", (c) => {
    const id = c.req.param("project");
    if (ledger.project(id) === undefined) return json(404, { error: "no such project" });
    return json(200, Object.fromEntries(ledger.memberRecords(id).map((m) => [m.userId, m])));
  });

  app.get("/admin/projects/:project/events", (c) => json(200, ledger.events(c.req.param("project"))));

  app.notFound(() => page(renderMessage("Not found", "Nothing here.", 404), 404));
  return app;
}

/** The pages' base path of a project. */
function basePath(p: Project): string {
  return p.id === DEFAULT_PROJECT ? "" : `/t/${encodeURIComponent(p.id)}`;
}

/**
 * A chart's window, from the first event to now: by minute while that is
 * under 2 hours (at least the last 30 minutes), by hour under 2 days, else
 * by day (at most the last 60 days).
 */
export function chartWindow(first: number | null, now: number): { from: number; to: number; bucket: Bucket } {
  const to = now + 1;
  const start = first ?? now;
  if (now - start < 2 * 3_600_000) return { from: Math.min(start, now - 29 * 60_000), to, bucket: "minute" };
  if (now - start < 2 * DAY_MS) return { from: start, to, bucket: "hour" };
  return { from: Math.max(start, now - 59 * DAY_MS), to, bucket: "day" };
}

async function amountOf(request: Request): Promise<number | undefined> {
  const type = request.headers.get("content-type") ?? "";
  let value: unknown;
  if (type.includes("application/json")) {
    const text = await request.text();
    if (text === "") return TOP_UP_AMOUNTS[1];
    try {
      value = (JSON.parse(text) as { amountUsd?: unknown } | null)?.amountUsd ?? TOP_UP_AMOUNTS[1];
    } catch {
      return undefined;
    }
  } else {
    const form = await request.formData().catch(() => undefined);
    const field = form?.get("amountUsd");
    value = typeof field === "string" && field !== "" ? Number(field) : undefined;
  }
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function page(html: string, status = 200): Response {
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}
