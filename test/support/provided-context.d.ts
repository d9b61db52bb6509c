/** Values the global setup provides to every test project (`inject(key)`). */
export {};

declare module "vitest" {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the fake providers (`/p/…`, `/m/…`) and the runs' Stoa API (`/s/…`). */
    fakeBase: string;
    /** `http://127.0.0.1:<port>` of the local Stoa server itself (checkout, pages, `/t/<runId>/api`). */
    stoaServer: string;
    /** Where the local Stoa server runs: `workerd` (wrangler, a Durable Object) or `node` (in-process). */
    stoaServerHost: "workerd" | "node";
  }
}
