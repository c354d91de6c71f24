/**
 * The simulator bridge's message format, version 1. Shared by the firmware side
 * (runs in XS) and the host side (Node).
 *
 *   byte 0     version (1)
 *   byte 1     op (one of `Op`)
 *   bytes 2-5  id, uint32 little-endian (timer, stream, block; 0 when unused)
 *   bytes 6..  body: raw bytes for data ops (TlsWrite, TlsData, FlashRead/Write,
 *              Retained*), fixed little-endian fields for the clock, timer and
 *              sensor ops, and UTF-8 JSON only for rare control ops (boot, log,
 *              open, errors).
 *
 * Calls (firmware to host) are synchronous and answered with a message of the
 * same op; calls that need no answer may travel together in a Batch. Events
 * (host to firmware, op >= 0x80) are answered with the Batch of calls the
 * firmware queued (or an empty body), or as stated.
 */
import { fromUtf8, toUtf8 } from '../../firmware/util/text';

export const WIRE_VERSION = 1;
export const HEADER = 6;

export const Op = Object.freeze({
  // calls
  Now: 0x01,           // reply body: u32 tick, f64 wall ms (NaN while unsynced)
  TimerSet: 0x02,      // id: timer; body: u32 delay ms
  TimerClear: 0x03,    // id: timer
  Random: 0x04,        // reply body: u32
  Log: 0x05,           // body: JSON [event, fields]
  TimeQuery: 0x06,     // body: JSON { server }; answered later by the TimeReply event
  TimeSet: 0x07,       // body: f64 wall ms
  Batch: 0x08,         // body: messages, each a u32 length then the message; answered with the last one's reply
  WifiJoin: 0x10,      // body: JSON { hint? }
  WifiLeave: 0x11,
  WifiPowerSave: 0x12, // body: JSON mode
  TlsOpen: 0x20,       // id: stream; body: JSON options without callbacks (resume and maxVersion filled in)
  TlsWrite: 0x21,      // id: stream; body: raw (no reply expected)
  TlsClose: 0x22,      // id: stream
  TlsWriteReply: 0x23, // id: stream; body: raw, and the peer is expected to answer
  TlsEnd: 0x24,        // id: stream; graceful close, answered later by TlsEnded
  FlashInfo: 0x30,     // reply body: u32 byteLength, u32 blockSize
  FlashRead: 0x31,     // body: u32 offset, u32 length; reply body: raw
  FlashWrite: 0x32,    // body: u32 offset, raw
  FlashErase: 0x33,    // id: block
  RetainedLoad: 0x38,  // reply: id 1 and raw when present, id 0 when empty
  RetainedStore: 0x39, // body: raw
  DeepSleep: 0x40,     // body: u32 ms
  SensorRead: 0x41,    // reply body: f64
  Restart: 0x42,
  FeedWatchdog: 0x43,
  // events
  Boot: 0x80,          // body: JSON { reason, config }
  Timer: 0x81,         // id: timer
  WifiJoined: 0x82,    // body: JSON hint
  WifiError: 0x83,     // body: JSON LinkError
  WifiLost: 0x84,      // body: JSON LinkError
  TimeReply: 0x85,     // body: JSON TimeReading or { error: LinkError }
  FlashChanged: 0x86,  // the flash changed outside the firmware's own writes (a fault): read it again
  TlsConnected: 0x90,  // id: stream; body: JSON { alpn, resumed }
  TlsData: 0x91,       // id: stream; body: raw
  TlsError: 0x92,      // id: stream; body: JSON LinkError
  TlsEnded: 0x93,      // id: stream
  Inspect: 0xa0,       // reply body: JSON of the firmware's state, for tests and reports
});
export type Op = (typeof Op)[keyof typeof Op];

export interface Message {
  op: number;
  id: number;
  body: Uint8Array;
}

/** A fresh message whose ArrayBuffer holds exactly the message (issueCommand sends whole buffers). */
export function message(op: number, id: number, bodyLength: number): { bytes: Uint8Array; view: DataView } {
  const buffer = new ArrayBuffer(HEADER + bodyLength);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  bytes[0] = WIRE_VERSION;
  bytes[1] = op;
  view.setUint32(2, id >>> 0, true);
  return { bytes, view };
}

export function withBody(op: number, id: number, body: Uint8Array): Uint8Array {
  const { bytes } = message(op, id, body.length);
  bytes.set(body, HEADER);
  return bytes;
}

export function withJson(op: number, id: number, value: unknown): Uint8Array {
  return withBody(op, id, toUtf8(JSON.stringify(value)));
}

/** Throws on a message from another version: both sides are built together, so a mismatch is a bug. */
export function parse(bytes: Uint8Array): Message {
  if (bytes.length < HEADER || bytes[0] !== WIRE_VERSION) {
    throw new Error(`bridge: bad message (version ${bytes[0]}, ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { op: bytes[1], id: view.getUint32(2, true), body: bytes.subarray(HEADER) };
}

export function bodyJson<T>(m: Message): T {
  return JSON.parse(fromUtf8(m.body)) as T;
}

export function bodyView(m: Message): DataView {
  return new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
}

/** The transport under the firmware-side HAL: a synchronous call into the host. */
export interface HostPort {
  call(message: Uint8Array): Uint8Array;
}
