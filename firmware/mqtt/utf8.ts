/**
 * UTF-8 for MQTT strings (§1.5.3): well-formed per RFC 3629, no surrogate code
 * points [MQTT-1.5.3-1], no U+0000 [MQTT-1.5.3-2]; U+FEFF is kept as is
 * [MQTT-1.5.3-3]. Written by hand so that measuring and writing allocate nothing.
 */

/**
 * `charCodeAt` called through `.call`: on XS, a method access on a string
 * primitive (`codeAt(s, i)`) allocates a wrapper object each time (2 heap
 * slots, measured with xsnap's meter); the unbound call allocates nothing.
 */
export const codeAt: (s: string, i: number) => number = Function.prototype.call.bind(String.prototype.charCodeAt) as never;

/**
 * Bytes `s` takes in UTF-8, or -1 when `s` cannot be an MQTT string (a lone
 * surrogate or U+0000). Allocates nothing.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const c = codeAt(s, i);
    if (c < 0x80) {
      if (c === 0) return -1;
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 3;
    } else if (c <= 0xdbff && i + 1 < n) {
      const d = codeAt(s, i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      i++;
      bytes += 4;
    } else {
      return -1;
    }
  }
  return bytes;
}

/**
 * Writes `s` as UTF-8 at `out[offset]` and returns the bytes written. `s` must
 * have passed `utf8Length` and `out` must have room; neither is checked here.
 */
export function utf8Write(s: string, out: Uint8Array, offset: number): number {
  const n = s.length;
  let p = offset;
  for (let i = 0; i < n; i++) {
    let c = codeAt(s, i);
    if (c < 0x80) {
      out[p++] = c;
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      c = 0x10000 + ((c - 0xd800) << 10) + (codeAt(s, ++i) - 0xdc00);
      out[p++] = 0xf0 | (c >> 18);
      out[p++] = 0x80 | ((c >> 12) & 0x3f);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p - offset;
}

/** Code units collected before each String.fromCharCode call; keeps argument lists short for XS's stack. */
const CHUNK = 64;

/**
 * Decodes `bytes[start, end)` as an MQTT string, or returns `undefined` when the
 * bytes are not well-formed UTF-8 (overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences) or contain U+0000. Never throws.
 */
export function utf8Read(bytes: Uint8Array, start: number, end: number): string | undefined {
  let text = '';
  const units: number[] = [];
  let i = start;
  while (i < end) {
    let cp = bytes[i++];
    if (cp === 0) return undefined;
    if (cp >= 0x80) {
      // The lead byte sets how many continuation bytes follow and the first one's range:
      // E0 needs A0..BF (no overlong forms), ED 80..9F (no surrogates), F0 90..BF (no overlong forms), F4 80..8F (at most U+10FFFF).
      const b = cp;
      let more: number;
      let lo = 0x80;
      let hi = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) {
        more = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        more = 2;
        cp = b & 0x0f;
        if (b === 0xe0) lo = 0xa0;
        if (b === 0xed) hi = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        more = 3;
        cp = b & 0x07;
        if (b === 0xf0) lo = 0x90;
        if (b === 0xf4) hi = 0x8f;
      } else {
        return undefined;
      }
      if (i + more > end) return undefined;
      for (const stop = i + more; i < stop; i++) {
        const c = bytes[i];
        if (c < lo || c > hi) return undefined;
        cp = (cp << 6) | (c & 0x3f);
        lo = 0x80;
        hi = 0xbf;
      }
    }
    if (cp < 0x10000) {
      units.push(cp);
    } else {
      cp -= 0x10000;
      units.push(0xd800 | (cp >> 10), 0xdc00 | (cp & 0x3ff));
    }
    if (units.length >= CHUNK) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  if (units.length > 0) text += String.fromCharCode(...units);
  return text;
}
