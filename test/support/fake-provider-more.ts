/**
 * A fake provider for the wire formats of issue 11: Gemini (JSON and SSE, Gemini API and Vertex), Bedrock
 * (Converse JSON, ConverseStream and InvokeModelWithResponseStream as binary `vnd.amazon.eventstream` frames
 * with valid CRCs, InvokeModel JSON), Azure OpenAI (content-filter chunk first), Groq, DeepSeek, xAI and
 * Mistral. Bodies are the recorded fixtures of `provider-facts-more.md`. Web APIs only.
 *
 * `fakeProviderMore(request)` answers in-process: hand it to a client as its fetch, behind `stoa.fetch()`.
 * Not wired into the global setup yet. The event-stream encoder here (`eventStreamFrame`, with a bit-by-bit
 * CRC-32) is written apart from `src/streams/` so it can check the decoder.
 */

const encoder = new TextEncoder();

/** CRC-32 computed bit by bit (the reference the table-driven `src/streams/crc32.ts` is checked against). */
export function referenceCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** One encoded header: name, type byte, value bytes. */
export function headerBytes(name: string, type: number, value: Uint8Array = new Uint8Array(0)): Uint8Array {
  const nameBytes = encoder.encode(name);
  return concatBytes([new Uint8Array([nameBytes.length]), nameBytes, new Uint8Array([type]), value]);
}

/** A string header (type 7). */
export function stringHeader(name: string, value: string): Uint8Array {
  const bytes = encoder.encode(value);
  return headerBytes(name, 7, concatBytes([new Uint8Array([bytes.length >> 8, bytes.length & 0xff]), bytes]));
}

/**
 * One event-stream message: `headers` as encoded header bytes (or string headers by name), `payload` as
 * bytes or text; both CRCs computed by `referenceCrc32`.
 */
export function eventStreamFrame(
  headers: Record<string, string> | Uint8Array[],
  payload: Uint8Array | string,
): Uint8Array {
  const head = concatBytes(
    Array.isArray(headers) ? headers : Object.entries(headers).map(([name, value]) => stringHeader(name, value)),
  );
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const total = 16 + head.length + body.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, head.length);
  view.setUint32(8, referenceCrc32(out.subarray(0, 8)));
  out.set(head, 12);
  out.set(body, 12 + head.length);
  view.setUint32(total - 4, referenceCrc32(out.subarray(0, total - 4)));
  return out;
}

/** An `event` message of type `eventType` with a JSON payload, headers in Bedrock's order. */
export function bedrockEvent(eventType: string, payload: unknown): Uint8Array {
  return eventStreamFrame(
    { ":event-type": eventType, ":content-type": "application/json", ":message-type": "event" },
    JSON.stringify(payload),
  );
}

/** `parts` as one array. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
