/**
 * Reading the outgoing request: is it metered, what does it ask for, and the
 * (rarely) rewritten body. Anything this cannot read passes through untouched.
 */
import type { Provider, RequestFacts } from "../providers/types.ts";
import { utf8Length } from "../streams/bytes.ts";
import { tryParse } from "../streams/json-scan.ts";
import { isObj } from "../util/json.ts";

/** A request the meter will watch, ready to send. */
export interface PreparedRequest {
  facts: RequestFacts;
  input: RequestInfo | URL;
  init: RequestInit | undefined;
  /** UTF-8 bytes of the JSON body as it is sent (a spend hold's bound on input tokens). */
  bodyBytes: number;
}

/** The pathname of a fetch input, or undefined for what is not http(s) (the SDKs' `data:,` probe). */
function pathnameOf(input: RequestInfo | URL): string | undefined {
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (!href.startsWith("http:") && !href.startsWith("https:")) return undefined;
  const query = href.indexOf("?");
  const path = query === -1 ? href : href.slice(0, query);
  const afterHost = path.indexOf("/", path.indexOf("//") + 2);
  return afterHost === -1 ? "/" : path.slice(afterHost);
}

/** Decodes request bodies given as bytes (whole, so it holds no state). */
const utf8 = new TextDecoder();

/** The body text of a request, when it is text we can read without consuming the app's copy. */
async function bodyText(input: RequestInfo | URL, init: RequestInit | undefined): Promise<string | undefined> {
  const body = init?.body;
  if (typeof body === "string") return body;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return utf8.decode(body);
  if (body === undefined && input instanceof Request && input.body !== null) {
    const type = input.headers.get("content-type") ?? "";
    return type.includes("json") ? input.clone().text() : undefined;
  }
  return undefined; // FormData, streams, Blob, URLSearchParams: not metered
}

/**
 * Decides whether a call is metered and prepares it. Returns undefined for a
 * call that must pass through untouched.
 */
export async function prepareRequest(
  provider: Provider,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): Promise<PreparedRequest | undefined> {
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  if (method.toUpperCase() !== "POST") return undefined;
  const pathname = pathnameOf(input);
  if (pathname === undefined) return undefined;
  const endpoint = provider.endpoint(pathname);
  if (endpoint === undefined) return undefined;
  const text = await bodyText(input, init);
  if (text === undefined) return undefined;
  const body = tryParse(text);
  if (!isObj(body)) return undefined;

  const { facts, rewritten } = requestFacts(provider, endpoint, pathname, body, text);
  if (rewritten === undefined) return { facts, input, init, bodyBytes: utf8Length(text) };
  return { facts, ...withBody(input, init, rewritten), bodyBytes: utf8Length(rewritten) };
}

/**
 * What the meter knows of a metered request (its path and parsed body), and
 * the body text to send instead when the provider rewrites it. Pure.
 */
export function requestFacts(
  provider: Provider,
  endpoint: string,
  pathname: string,
  body: Record<string, unknown>,
  text: string,
): { facts: RequestFacts; rewritten: string | undefined } {
  const described = provider.describe?.(pathname, body);
  const facts: RequestFacts = {
    endpoint,
    body,
    stream: described?.stream ?? body.stream === true,
    injectedUsage: false,
    pathname,
    requestedModel: described?.requestedModel,
  };
  const prepared = provider.prepare?.(facts, text);
  if (prepared === undefined) return { facts, rewritten: undefined };
  return { facts: { ...facts, injectedUsage: prepared.injectedUsage }, rewritten: prepared.text };
}

/** The same call with a new JSON body. */
function withBody(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  body: string,
): { input: RequestInfo | URL; init: RequestInit } {
  if (input instanceof Request) {
    const headers = new Headers(input.headers);
    for (const [name, value] of new Headers(init?.headers)) headers.set(name, value);
    headers.delete("content-length");
    return {
      input: input.url,
      init: { method: "POST", headers, body, signal: init?.signal ?? input.signal, redirect: input.redirect },
    };
  }
  const next: RequestInit = { ...init, body };
  if (init?.headers !== undefined) {
    const headers = new Headers(init.headers);
    if (headers.has("content-length")) {
      headers.delete("content-length");
      next.headers = headers;
    }
  }
  return { input, init: next };
}
