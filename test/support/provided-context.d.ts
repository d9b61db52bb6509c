/** Values the global setup provides to every test project (`inject(key)`). */
export {};

declare module "vitest" {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the fake provider (`/p/…`) and fake Stoa (`/s/…`) server. */
    fakeBase: string;
  }
}
