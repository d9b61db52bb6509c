/**
 * `resolveConfig`: the one place where the API key, the base URL and the
 * default fetch are resolved and checked. The API client takes what it
 * returns as is.
 */
import { describe, expect, it } from "vitest";
import { createApiClient } from "../../src/api/client.ts";
import { DEFAULT_BASE_URL, resolveConfig } from "../../src/config.ts";
import { StoaConfigError } from "../../src/errors.ts";
import { Stoa } from "../../src/index.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { globalFetch } from "../../src/runtime.ts";
import { renderings } from "../support/api.ts";

const SECRET = "sk_live_7f3a9c1e5b2d4f6a8c0e";

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("resolveConfig", () => {
  it("refuses a missing, empty or non-string key, and one with spaces or non-ASCII, without echoing it", () => {
    for (const apiKey of ["", 42 as unknown as string, `${SECRET}\n`, ` ${SECRET}`, `${SECRET}é`]) {
      const error = thrown(() => resolveConfig({ apiKey }));
      expect(error).toBeInstanceOf(StoaConfigError);
      expect(renderings(error).some((text) => text.includes(SECRET))).toBe(false);
    }
    expect(thrown(() => resolveConfig({ apiKey: `${SECRET}\n` })).message).toBe(
      "The Stoa API key has spaces or characters outside ASCII: check STOA_API_KEY for a stray newline or quote.",
    );
  });

  it("takes an absolute http(s) base URL, without trailing slashes, and says what it got otherwise", () => {
    expect(resolveConfig({ apiKey: "sk", baseUrl: "https://stoa.test/api//" }).baseUrl).toBe("https://stoa.test/api");
    expect(resolveConfig({ apiKey: "sk", baseUrl: "http://127.0.0.1:8787/api" }).baseUrl).toBe(
      "http://127.0.0.1:8787/api",
    );
    expect(() => resolveConfig({ apiKey: "sk", baseUrl: "www.onstoa.com/api" })).toThrow(
      `baseUrl must be an absolute http(s) URL such as ${DEFAULT_BASE_URL}; got a relative or malformed URL.`,
    );
    expect(() => resolveConfig({ apiKey: "sk", baseUrl: "ftp://stoa.test" })).toThrow(
      `baseUrl must be an absolute http(s) URL such as ${DEFAULT_BASE_URL}; got an ftp: URL.`,
    );
  });

  it("defaults the fetch to the one global-fetch default, and keeps an injected one", () => {
    expect(resolveConfig({ apiKey: "sk" }).fetch).toBe(globalFetch);
    const own: FetchLike = async () => new Response("{}");
    expect(resolveConfig({ apiKey: "sk", fetch: own }).fetch).toBe(own);
  });

  it("is the only check: the client joins what it resolved without //", async () => {
    const urls: string[] = [];
    const capture: FetchLike = async (input) => {
      urls.push(String(input));
      return new Response("{}");
    };
    for (const baseUrl of ["https://stoa.test/api/", "https://stoa.test/api"]) {
      await createApiClient(resolveConfig({ apiKey: "sk", baseUrl, fetch: capture })).request("GET", "v1/a");
      await createApiClient(resolveConfig({ apiKey: "sk", baseUrl, fetch: capture })).request("GET", "/v1/b");
    }
    expect(urls).toEqual([
      "https://stoa.test/api/v1/a",
      "https://stoa.test/api/v1/b",
      "https://stoa.test/api/v1/a",
      "https://stoa.test/api/v1/b",
    ]);
  });
});

describe("new Stoa({ onError })", () => {
  it("refuses an onError that is not a function: every report, undelivered events among them, would be lost", () => {
    const logger = { error: () => {} };
    const error = thrown(() => new Stoa({ apiKey: "sk_test", onError: logger as unknown as (e: Error) => void }));
    expect(error).toBeInstanceOf(StoaConfigError);
    expect(error.message).toBe("onError must be a function, e.g. `onError: (error) => logger.error(error)`.");
    expect(new Stoa({ apiKey: "sk_test", onError: () => {} })).toBeInstanceOf(Stoa);
  });
});
