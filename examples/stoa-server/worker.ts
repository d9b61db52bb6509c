/**
 * The local Stoa server on Workers: every request goes to one SQLite-backed
 * Durable Object, which holds the whole ledger, so state survives restarts
 * of `wrangler dev` (it lives in `.wrangler/state`) and every operation is
 * serialised.
 *
 * Env: STOA_API_KEY and STOA_REGISTRATION_SECRET, the default project's
 * (served at `/api`); LEDGER, the Durable Object namespace.
 */
import { DurableObject } from "cloudflare:workers";
import type { Hono } from "hono";
import { createStoaServer } from "./app.ts";
import { createLedger } from "./ledger.ts";
import { doSql } from "./sql.ts";

/** The bindings of the local Stoa server. */
export interface Env {
  STOA_API_KEY: string;
  STOA_REGISTRATION_SECRET: string;
  LEDGER: DurableObjectNamespace<LedgerObject>;
}

/** The Durable Object that owns the ledger. */
export class LedgerObject extends DurableObject<Env> {
  readonly #app: Hono;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#app = createStoaServer({
      ledger: createLedger(doSql(ctx.storage)),
      defaultProject: { apiKey: env.STOA_API_KEY, registrationSecret: env.STOA_REGISTRATION_SECRET },
    });
  }

  override fetch(request: Request): Promise<Response> {
    return Promise.resolve(this.#app.fetch(request));
  }
}

export default {
  async fetch(request, env) {
    // the whole body first: the object may answer (a 401, say) without reading it
    const body = request.body === null ? null : await request.arrayBuffer();
    const ledger = env.LEDGER.get(env.LEDGER.idFromName("ledger"));
    return ledger.fetch(new Request(request, { body }));
  },
} satisfies ExportedHandler<Env>;
