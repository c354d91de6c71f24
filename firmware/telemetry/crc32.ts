/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF): the checksum zlib, PNG and ESP-IDF's `esp_rom_crc32_le` compute.
 * Check value: crc32 of ASCII "123456789" is 0xCBF43926.
 */

/**
 * The byte table, built when the module loads: on Moddable the module is
 * preloaded, so this runs at build time and the table lives in flash. It is
 * built by linearity (t[a ^ b] = t[a] ^ t[b]) from the eight single-bit
 * entries, 255 steps instead of 2,048 (48,900 XS meter units down to 7,600 in
 * the simulator, which instantiates modules at every boot).
 */
const TABLE = new Uint32Array(256);
for (let bit = 128, c = 0xedb88320; bit > 0; bit >>= 1, c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1) {
  for (let i = 0; i < 256; i += bit << 1) TABLE[i + bit] = TABLE[i] ^ c;
}

/**
 * Continue a CRC over `bytes[start..end)`. Start with `crc = 0`; the result of
 * one call is the `crc` of the next, so a header and a payload held apart
 * checksum as if they were one buffer.
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
