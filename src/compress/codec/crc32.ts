// CRC-32 (IEEE 802.3, as zlib computes it) in plain JavaScript, for the browser decoder, which
// has no node:zlib; Node's encoder and decoder use zlib's own.
let table: Uint32Array | undefined;

/**
 * The CRC-32 of `bytes`, equal to node:zlib's `crc32(bytes)`.
 *
 * ```ts
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (table[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
