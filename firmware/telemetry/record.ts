/**
 * One sample as stored in a queue record. The sample's sequence number is the
 * record's queue id, so it is as durable as the record itself and needs no
 * separate counter (see queue.ts: ids rise for the life of the flash region).
 *
 * Encoding, little-endian:
 *   0     u8  flags: bit 0 set when the wall clock was synced and `t` follows
 *   1..6  u48 t, Unix epoch milliseconds (present only with bit 0)
 *   then  f64 value
 * 9 bytes unsynced, 15 synced; with the 12-byte record header and alignment a
 * sample takes 24 or 28 bytes of flash.
 */

export interface Sample {
  /** Unix epoch milliseconds when the clock was synced, else null. */
  t: number | null;
  v: number;
}

const SYNCED = 1;
const MAX_T = 2 ** 48 - 1;

export function encodeSample(sample: Sample): Uint8Array {
  const t = sample.t;
  const synced = t !== null && Number.isFinite(t) && t >= 0 && t <= MAX_T;
  const bytes = new Uint8Array(synced ? 15 : 9);
  const view = new DataView(bytes.buffer);
  bytes[0] = synced ? SYNCED : 0;
  let at = 1;
  if (synced) {
    const ms = Math.floor(t);
    view.setUint32(1, ms % 0x1_0000_0000, true);
    view.setUint16(5, Math.floor(ms / 0x1_0000_0000), true);
    at = 7;
  }
  view.setFloat64(at, sample.v, true);
  return bytes;
}

/** The sample in `bytes`, or undefined when they are not one. */
export function decodeSample(bytes: Uint8Array): Sample | undefined {
  if (bytes.length < 1) return undefined;
  const synced = bytes[0] === SYNCED;
  if ((bytes[0] !== 0 && !synced) || bytes.length !== (synced ? 15 : 9)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const t = synced ? view.getUint32(1, true) + view.getUint16(5, true) * 0x1_0000_0000 : null;
  return { t, v: view.getFloat64(synced ? 7 : 1, true) };
}
