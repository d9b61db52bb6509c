/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the checksum of zlib
 * and of AWS's event-stream framing), table-driven, one byte at a time.
 */

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/**
 * The CRC-32 of `bytes` as an unsigned 32-bit integer. Pass the result of a
 * previous call as `crc` to continue over bytes that follow.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
