/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF): the checksum zlib, PNG and ESP-IDF's `esp_rom_crc32_le` compute.
 * Check value: crc32 of ASCII "123456789" is 0xCBF43926.
 */

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/**
 * Continue a CRC over `bytes[start..end)`. Start with `crc = 0`; the result of
 * one call is the `crc` of the next, so a header and a payload held apart
 * checksum as if they were one buffer.
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const t = (table ??= makeTable());
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
