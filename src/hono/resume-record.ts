/**
 * The blocked action as it waits in a `ResumeStore`: method, path, content
 * type and body, written by `chargeRequired` and rebuilt into a `Request` by
 * `paymentReturn`. Also the one rule for what counts as a path on this
 * origin, for configured paths and stored ones alike.
 */
import type { Context } from "hono";
import { concat } from "../streams/bytes.ts";

/** What is needed to replay a blocked request, as stored. */
export interface ResumeRecord {
  method: string;
  /** Path and query on this origin. */
  path: string;
  contentType?: string;
  /** The body, base64. */
  body?: string;
  /** The body was over the limit or already consumed: nothing can be replayed. */
  bodyDropped?: true;
}

/**
 * Records written before the keys were spelled out (`m/u/t/b/d`). A pending
 * record lives at most an hour, so a `kvStore` may still hold some right
 * after an upgrade; they are read as before.
 */
interface LegacyRecord {
  m: string;
  u: string;
  t?: string;
  b?: string;
  d?: true;
}

/**
 * Whether `path` is a path on this origin and nothing else: starts with one
 * `/`, no `\` before the query (the URL parser reads it as `/`, so `/\host`
 * is `//host`), no control characters (the parser drops tabs and newlines,
 * so `/\t/host` is `//host` too), and resolving it keeps the origin.
 */
export function isLocalPath(path: string): boolean {
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return false;
  const beforeQuery = path.split(/[?#]/, 1)[0] ?? "";
  if (beforeQuery.includes("\\")) return false;
  const base = "https://origin.invalid";
  try {
    return new URL(path, base).origin === base;
  } catch {
    return false;
  }
}

/**
 * The record of the request in `c`; the body is kept only when it fits
 * `maxBodyBytes`. A body the app has not read is read only up to
 * `maxBodyBytes + 1` bytes (a body with no `content-length` included), then
 * dropped. A body the app read as form data is stored as Hono would hand it
 * on, re-serialised, with the content type of those bytes (the multipart
 * boundary changes).
 */
export async function recordOf(c: Context, maxBodyBytes: number): Promise<ResumeRecord> {
  const url = new URL(c.req.url);
  const record: ResumeRecord = { method: c.req.method, path: url.pathname + url.search };
  if (c.req.method === "GET" || c.req.method === "HEAD") return record;
  const type = c.req.header("content-type");
  if (type !== undefined) record.contentType = type;
  const length = Number(c.req.header("content-length") ?? Number.NaN);
  if (length > maxBodyBytes) return { ...record, bodyDropped: true };
  let body: { bytes: Uint8Array; type?: string | undefined } | null;
  try {
    body = await bodyOf(c, maxBodyBytes);
  } catch {
    return { ...record, bodyDropped: true }; // consumed outside Hono's body cache
  }
  if (body === null) return { ...record, bodyDropped: true };
  if (body.type !== undefined) record.contentType = body.type;
  if (body.bytes.byteLength > 0) record.body = toBase64(body.bytes);
  return record;
}

/**
 * The request's body as it can be replayed, or null when it is over
 * `maxBodyBytes`: Hono's cached copy when the app read it (form data
 * re-serialised, with its new `type`), else the raw stream read up to
 * `maxBodyBytes + 1` bytes.
 *
 * @throws {TypeError} when the body was consumed outside Hono's cache.
 */
async function bodyOf(c: Context, maxBodyBytes: number): Promise<{ bytes: Uint8Array; type?: string } | null> {
  // the first cached form is the one read from the request; Hono derives the others from it
  const first = Object.keys(c.req.bodyCache)[0];
  let bytes: Uint8Array;
  let type: string | undefined;
  if (first !== undefined && first !== "formData") {
    bytes = new Uint8Array(await c.req.arrayBuffer()); // the bytes read, or the text and JSON the app read
  } else if (first === "formData") {
    const encoded = encodeForm(await c.req.formData(), c.req.header("content-type"));
    bytes = new Uint8Array(await encoded.arrayBuffer());
    type = encoded.headers.get("content-type") ?? undefined;
  } else {
    const read = await readCapped(c.req.raw, maxBodyBytes);
    if (read === null) return null;
    bytes = read;
    // what the app's own handlers would have cached, for `onChargeRequired`
    (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(
      bytes.slice().buffer as ArrayBuffer,
    );
  }
  if (bytes.byteLength > maxBodyBytes) return null;
  return type === undefined ? { bytes } : { bytes, type };
}

/**
 * `form` as a body with its content type: URL-encoded when it came so and
 * holds no files, else multipart (with a boundary of its own).
 */
function encodeForm(form: FormData, originalType: string | undefined): Response {
  const urlEncoded = /^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(originalType ?? "");
  const entries = [...form.entries()];
  if (urlEncoded && entries.every(([, value]) => typeof value === "string")) {
    return new Response(new URLSearchParams(entries as [string, string][]));
  }
  return new Response(form);
}

/**
 * The body of `request`, read until it ends or passes `max` bytes; null when
 * it passed them (the rest is cancelled, never read).
 *
 * @throws {TypeError} when the body was already used.
 */
async function readCapped(request: Request, max: number): Promise<Uint8Array | null> {
  if (request.bodyUsed) throw new TypeError("The request body was already used.");
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return chunks.length === 0 ? new Uint8Array(0) : concat(chunks);
}

/** A stored record, read back; null when it is not one (a custom store's garbage). */
export function readRecord(text: string): ResumeRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as Partial<ResumeRecord> & Partial<LegacyRecord>;
  const record: Partial<ResumeRecord> =
    "m" in v ? { method: v.m, path: v.u, contentType: v.t, body: v.b, bodyDropped: v.d } : { ...v };
  if (typeof record.method !== "string" || typeof record.path !== "string") return null;
  const read: ResumeRecord = { method: record.method, path: record.path };
  if (typeof record.contentType === "string") read.contentType = record.contentType;
  if (typeof record.body === "string") read.body = record.body;
  if (record.bodyDropped === true) read.bodyDropped = true;
  return read;
}

/** The replayable request of `record`, at `target` (its path resolved on this origin). */
export function requestOf(record: ResumeRecord, target: URL): Request {
  const headers = new Headers();
  if (record.contentType !== undefined) headers.set("content-type", record.contentType);
  return new Request(target, {
    method: record.method,
    headers,
    ...(record.body === undefined ? {} : { body: fromBase64(record.body) }),
  });
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
