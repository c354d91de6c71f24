/**
 * Seeded fuzz frames for the MQTT decoder: valid encodings of random packets of
 * all 14 types, and mutations of them (bit flips, truncation, splices, random
 * remaining-length bytes, inserted and deleted bytes, fixed-header nibbles,
 * concatenations, plain random bytes).
 *
 * Deterministic for a seed and written in plain ECMAScript (no Node APIs), so a
 * seeded subset can run inside XS: `new FrameGenerator(seed).next()` gives the
 * same frames on every engine.
 */
import type { Packet, QoS, SubackReturnCode } from '../../../firmware/mqtt/packets';
import { encode, sizeOf } from './broker-codec';

/** xorshift32: small, fast and identical on every engine. */
import { SeededRandom as Rng } from '../../device/random';

export { Rng };

export type FrameKind =
  | 'valid' | 'bit-flip' | 'truncate' | 'splice' | 'length-bytes' | 'insert' | 'delete'
  | 'header-byte' | 'interesting-byte' | 'concat' | 'random';

export interface Frame {
  kind: FrameKind;
  bytes: Uint8Array;
  /** For `valid` frames only: the packet `bytes` encode. */
  packet?: Packet;
}

const KINDS: readonly FrameKind[] = [
  'valid', 'valid', 'bit-flip', 'bit-flip', 'truncate', 'splice', 'length-bytes', 'insert', 'delete',
  'header-byte', 'interesting-byte', 'concat', 'random',
];

const CHARS = ['a', 'b', 'Z', '0', '$', ' ', '-', 'é', 'ß', '€', '中', '\ufeff', '🙂', '𝄞', '\u{10ffff}', '\u007f', '\u0001'];
const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xfe, 0xff];

export class FrameGenerator {
  readonly rng: Rng;
  private readonly scratch = new Uint8Array(4096);

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  next(): Frame {
    const rng = this.rng;
    const kind = rng.pick(KINDS);
    if (kind === 'valid') {
      const packet = this.packet();
      return { kind, bytes: this.encode(packet), packet };
    }
    if (kind === 'random') {
      const bytes = new Uint8Array(rng.below(48));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.next32() & 0xff;
      return { kind, bytes };
    }
    const base = this.encode(this.packet());
    let bytes: Uint8Array;
    switch (kind) {
      case 'bit-flip': {
        bytes = base.slice();
        for (let n = 1 + rng.below(4); n > 0; n--) {
          // Favour the headers, where most of the decisions are.
          const at = rng.chance(50) ? rng.below(Math.min(bytes.length, 8)) : rng.below(bytes.length);
          bytes[at] ^= 1 << rng.below(8);
        }
        break;
      }
      case 'truncate':
        bytes = base.slice(0, rng.below(base.length));
        break;
      case 'splice': {
        const other = this.encode(this.packet());
        const a = rng.below(base.length + 1);
        const b = rng.below(other.length + 1);
        bytes = join(base.subarray(0, a), other.subarray(b));
        break;
      }
      case 'length-bytes': {
        // Replace the remaining length with 1..5 random, boundary-heavy bytes.
        const count = 1 + rng.below(5);
        const length = new Uint8Array(count);
        for (let i = 0; i < count; i++) {
          length[i] = rng.chance(50) ? rng.pick([0x00, 0x7f, 0x80, 0xff, 0x01, 0x02]) : rng.next32() & 0xff;
        }
        let old = 1;
        while (old < base.length && old < 5 && base[old] & 0x80) old++;
        bytes = join(join(base.subarray(0, 1), length), base.subarray(Math.min(old + 1, base.length)));
        break;
      }
      case 'insert': {
        const at = rng.below(base.length + 1);
        bytes = join(join(base.subarray(0, at), Uint8Array.of(rng.next32() & 0xff)), base.subarray(at));
        break;
      }
      case 'delete': {
        const at = rng.below(base.length);
        bytes = join(base.subarray(0, at), base.subarray(at + 1));
        break;
      }
      case 'header-byte':
        bytes = base.slice();
        bytes[0] = rng.chance(50) ? (bytes[0] & 0xf0) | rng.below(16) : (rng.below(16) << 4) | (bytes[0] & 0x0f);
        break;
      case 'interesting-byte':
        bytes = base.slice();
        bytes[rng.below(bytes.length)] = rng.pick(INTERESTING);
        break;
      default: {
        // 'concat': two or three valid packets, one byte of the middle one changed.
        const middle = this.encode(this.packet());
        middle[rng.below(middle.length)] = rng.next32() & 0xff;
        bytes = join(join(base, middle), rng.chance(50) ? this.encode(this.packet()) : new Uint8Array(0));
        break;
      }
    }
    return { kind, bytes };
  }

  /** A random valid packet of any of the 14 types. */
  packet(): Packet {
    const rng = this.rng;
    switch (rng.below(14)) {
      case 0: {
        const clientId = this.text(rng.chance(10) ? 0 : 1 + rng.below(23));
        const p: Packet = { type: 'connect', clientId, cleanSession: clientId === '' || rng.chance(50), keepAlive: rng.below(0x10000) };
        if (rng.chance(40)) p.will = { topic: this.topicName(), payload: this.bytes(), qos: this.qos(), retain: rng.chance(50) };
        if (rng.chance(40)) {
          p.username = this.text(rng.below(12));
          if (rng.chance(60)) p.password = this.bytes();
        }
        return p;
      }
      case 1: {
        const returnCode = rng.chance(70) ? 0 : 1 + rng.below(5);
        return { type: 'connack', sessionPresent: returnCode === 0 && rng.chance(50), returnCode: returnCode as 0 };
      }
      case 2: {
        const qos = this.qos();
        const topic = this.topicName();
        const payload = this.bytes();
        const retain = rng.chance(30);
        return qos === 0
          ? { type: 'publish', topic, payload, qos, retain, dup: false }
          : { type: 'publish', topic, payload, qos, retain, dup: rng.chance(20), packetId: this.packetId() };
      }
      case 3: return { type: 'puback', packetId: this.packetId() };
      case 4: return { type: 'pubrec', packetId: this.packetId() };
      case 5: return { type: 'pubrel', packetId: this.packetId() };
      case 6: return { type: 'pubcomp', packetId: this.packetId() };
      case 7: {
        const subscriptions = [];
        for (let n = 1 + rng.below(4); n > 0; n--) subscriptions.push({ topic: this.topicFilter(), qos: this.qos() });
        return { type: 'subscribe', packetId: this.packetId(), subscriptions };
      }
      case 8: {
        const granted: SubackReturnCode[] = [];
        for (let n = 1 + rng.below(6); n > 0; n--) granted.push(rng.pick([0, 1, 2, 0x80] as const));
        return { type: 'suback', packetId: this.packetId(), granted };
      }
      case 9: {
        const topics = [];
        for (let n = 1 + rng.below(4); n > 0; n--) topics.push(this.topicFilter());
        return { type: 'unsubscribe', packetId: this.packetId(), topics };
      }
      case 10: return { type: 'unsuback', packetId: this.packetId() };
      case 11: return { type: 'pingreq' };
      case 12: return { type: 'pingresp' };
      default: return { type: 'disconnect' };
    }
  }

  private encode(packet: Packet): Uint8Array {
    const size = sizeOf(packet);
    if (size <= this.scratch.length) {
      encode(packet, this.scratch);
      return this.scratch.slice(0, size);
    }
    const out = new Uint8Array(size);
    encode(packet, out);
    return out;
  }

  private qos(): QoS {
    return this.rng.below(3) as QoS;
  }

  private packetId(): number {
    return this.rng.chance(20) ? this.rng.pick([1, 0xff, 0x100, 0xffff]) : 1 + this.rng.below(0xffff);
  }

  private text(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += this.rng.pick(CHARS);
    return s;
  }

  private topicName(): string {
    let s = '';
    for (let n = 1 + this.rng.below(4); n > 0; n--) s += (s === '' ? '' : '/') + this.text(this.rng.below(5));
    return s === '' ? 'a' : s;
  }

  private topicFilter(): string {
    const rng = this.rng;
    if (rng.chance(5)) return '#';
    let s = '';
    for (let n = 1 + rng.below(4); n > 0; n--) s += (s === '' ? '' : '/') + (rng.chance(25) ? '+' : this.text(rng.below(5)));
    if (rng.chance(20)) s += '/#';
    return s === '' ? '+' : s;
  }

  /** Payload sizes that mostly stay small but cross the 1- and 2-byte remaining-length limits. */
  private bytes(): Uint8Array {
    const rng = this.rng;
    const n = rng.chance(75) ? rng.below(17) : rng.chance(90) ? rng.below(200) : rng.below(1200);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = rng.next32() & 0xff;
    return b;
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Push one frame the way a network would deliver it: byte by byte (3 %), whole
 * (57 %), or split at a random point (40 %).
 */
export function pushInPieces(bytes: Uint8Array, rng: Rng, push: (chunk: Uint8Array) => void): void {
  const mode = rng.below(100);
  if (mode < 3) {
    for (let i = 0; i < bytes.length; i++) push(bytes.subarray(i, i + 1));
  } else if (mode < 60) {
    push(bytes);
  } else {
    const cut = rng.below(bytes.length + 1);
    push(bytes.subarray(0, cut));
    push(bytes.subarray(cut));
  }
}
