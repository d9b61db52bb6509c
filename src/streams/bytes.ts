/** Byte helpers of the package: joining chunks, and the UTF-8 length of text. */

/** `parts` as one array: the part itself when there is one, else a copy of them all. */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
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

/** Any character but ASCII. */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The UTF-8 length of `text[0, end)`: exactly the bytes `TextEncoder` writes
 * for it. A surrogate pair is 4 bytes; a lone surrogate is 3, because the
 * encoder writes U+FFFD in its place.
 */
export function utf8Length(text: string, end: number = text.length): number {
  // ASCII throughout (the common case): one native scan, several times the loop's speed
  if (end === text.length && !NON_ASCII.test(text)) return end;
  let bytes = end;
  for (let i = 0; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < end) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++; // a pair: 2 units, 4 bytes
      bytes += 2; // else a lone surrogate: U+FFFD, 3 bytes
    } else bytes += 2;
  }
  return bytes;
}
