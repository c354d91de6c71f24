/**
 * Streaming MQTT 3.1.1 decoder: bytes in, whole validated packets out.
 *
 * Contracts:
 * - `push` accepts any chunking and never throws for any bytes; it returns
 *   `undefined`, or the `MqttError` that poisoned the decoder. Packets completed
 *   earlier in the same chunk are delivered before the error is returned. Once
 *   poisoned, every `push` returns that same error until `reset()`.
 * - Memory is bounded by `maxPacketSize`: a packet whose fixed header
 *   announces more than `maxPacketSize` bytes is rejected before any of its
 *   body is stored. A body that arrives whole in one chunk is parsed in place;
 *   one split across chunks is gathered in a buffer of exactly its size, made
 *   when its fixed header ends and kept until the next split body replaces it,
 *   so an idle decoder holds no more than the last split body.
 * - A decoded PUBLISH payload, will payload and password are fresh copies that
 *   the handler may keep. Apart from them, each packet allocates only its own
 *   object, strings and arrays.
 * - `onPacket` runs synchronously inside `push`. If it throws, the decoder is
 *   poisoned with 'handler-threw' and the exception propagates. It may call
 *   `reset()`, which also drops the rest of the chunk being pushed; it may not
 *   call `push`.
 */
import type { Packet, QoS, SubackReturnCode } from './packets';
import { TYPES, fixedFlags, isTopicName } from './packets';
import type { DecodeErrorKind } from './errors';
import { MqttError } from './errors';
import { MAX_REMAINING_LENGTH } from './codec';
import { utf8Read } from './utf8';

export interface MqttDecoderOptions {
  /**
   * Largest whole packet accepted, fixed header included: 2..268435460 bytes.
   * The decoder allocates `maxPacketSize - 2` bytes for packet bodies.
   */
  maxPacketSize: number;
}

/** A packet type's name for messages: CONNECT, PUBLISH ... */
function nameOf(type: number): string {
  return TYPES[type].toUpperCase();
}

/** Decoder states: awaiting fixed header byte 1, the remaining length, the body. */
const HEADER = 0;
const LENGTH = 1;
const BODY = 2;

export class MqttDecoder {
  readonly maxPacketSize: number;
  private body: Uint8Array;
  private state = HEADER;
  /** Fixed header byte 1 of the packet in progress. */
  private first = 0;
  private length = 0;
  private lengthBytes = 0;
  private multiplier = 1;
  /** Body bytes stored so far. */
  private filled = 0;
  private error: DecodeError | undefined = undefined;
  private busy = false;
  private generation = 0;
  /** Cursor over the body being parsed. */
  protected src: Uint8Array;
  protected pos = 0;
  protected end = 0;

  constructor(options: MqttDecoderOptions) {
    const max = options?.maxPacketSize;
    if (!Number.isInteger(max) || max < 2 || max > 1 + 4 + MAX_REMAINING_LENGTH) {
      throw new MqttError('invalid-argument', `maxPacketSize ${max} is outside 2..268435460`);
    }
    this.maxPacketSize = max;
    this.src = this.body = new Uint8Array(0);
  }

  /** Bytes of the packet in progress held in the body buffer. */
  get buffered(): number {
    return this.state === BODY ? this.filled : 0;
  }

  /** Largest body the decoder will buffer: `maxPacketSize - 2`. */
  get capacity(): number {
    return this.maxPacketSize - 2;
  }

  /** Forgets the packet in progress and any error, as for a new connection. */
  reset(): void {
    this.state = HEADER;
    this.filled = 0;
    this.error = undefined;
    this.generation++;
  }

  push(chunk: Uint8Array, onPacket: (packet: Packet) => void): DecodeError | undefined {
    if (this.error !== undefined) return this.error;
    if (this.busy) throw new MqttError('invalid-argument', 'push called from inside onPacket');
    if (!(chunk instanceof Uint8Array)) throw new MqttError('invalid-argument', 'chunk must be a Uint8Array');
    this.busy = true;
    try {
      return this.consume(chunk, onPacket);
    } finally {
      this.busy = false;
    }
  }

  private consume(chunk: Uint8Array, onPacket: (packet: Packet) => void): DecodeError | undefined {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.state === HEADER) {
        const b = chunk[i++];
        const failure = checkFirstByte(b);
        if (failure !== undefined) return this.poison(failure);
        this.first = b;
        this.length = 0;
        this.lengthBytes = 0;
        this.multiplier = 1;
        this.state = LENGTH;
      } else if (this.state === LENGTH) {
        const b = chunk[i++];
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 0x80;
        this.lengthBytes++;
        if (b & 0x80) {
          // The remaining length has at most 4 bytes (§2.2.3).
          if (this.lengthBytes === 4) {
            return this.poison(new MqttError('malformed-length', 'remaining length continues past 4 bytes'));
          }
          continue;
        }
        const size = 1 + this.lengthBytes + this.length;
        if (size > this.maxPacketSize) {
          return this.poison(new MqttError('packet-too-large',
            `${this.name} of ${size} bytes exceeds maxPacketSize ${this.maxPacketSize}`));
        }
        const failure = checkLength(this.first, this.length);
        if (failure !== undefined) return this.poison(failure);
        if (n - i >= this.length) {
          // The whole body is in this chunk: parse it in place.
          const start = i;
          i += this.length;
          this.state = HEADER;
          if (!this.deliver(chunk, start, i, onPacket)) return this.error;
        } else {
          this.filled = 0;
          this.body = new Uint8Array(this.length);
          this.state = BODY;
        }
      } else {
        const want = this.length - this.filled;
        const take = n - i < want ? n - i : want;
        this.body.set(i === 0 && take === n ? chunk : chunk.subarray(i, i + take), this.filled);
        this.filled += take;
        i += take;
        if (this.filled === this.length) {
          this.state = HEADER;
          this.filled = 0;
          if (!this.deliver(this.body, 0, this.length, onPacket)) return this.error;
        }
      }
    }
    return undefined;
  }

  /**
   * Parses one body and hands the packet over. False when the rest of the chunk
   * must be dropped: the body was malformed (poisoned) or `onPacket` called `reset()`.
   */
  private deliver(src: Uint8Array, start: number, end: number, onPacket: (packet: Packet) => void): boolean {
    this.src = src;
    this.pos = start;
    this.end = end;
    let packet: Packet;
    try {
      packet = this.parse();
    } catch (e) {
      // Field readers throw MqttError; anything else is a bug worth surfacing as is.
      if (!(e instanceof MqttError)) throw e;
      this.poison(e as DecodeError);
      return false;
    } finally {
      this.src = this.body;
    }
    const generation = this.generation;
    try {
      onPacket(packet);
    } catch (e) {
      this.poison(new MqttError('handler-threw', `onPacket threw while handling ${packet.type}`));
      throw e;
    }
    return generation === this.generation;
  }

  private poison(error: DecodeError): DecodeError {
    this.error = error;
    this.state = HEADER;
    this.filled = 0;
    return error;
  }

  private parse(): Packet {
    const first = this.first;
    switch (first >> 4) {
      case 1: case 8: case 10: case 12: case 14: return this.clientPacket(first >> 4);
      case 2: {
        const flags = this.u8();
        const returnCode = this.u8();
        if (flags & 0xfe) throw fail('bad-flags', 'CONNACK acknowledge flags bits 7-1 are reserved (§3.2.2.1)');
        if (returnCode > 5) throw fail('bad-return-code', `CONNACK return code ${returnCode} is reserved (Table 3.1)`);
        if (flags && returnCode !== 0) throw fail('bad-flags', 'CONNACK session present with a non-zero return code [MQTT-3.2.2-4]');
        return { type: 'connack', sessionPresent: flags === 1, returnCode: returnCode as 0 };
      }
      case 3: {
        const qos = ((first >> 1) & 3) as QoS;
        const topic = this.string('topic');
        if (!isTopicName(topic)) throw fail('bad-topic', 'PUBLISH topic is empty or has wildcards [MQTT-3.3.2-2] [MQTT-4.7.3-1]');
        const retain = (first & 1) === 1;
        const dup = (first & 8) === 8;
        if (qos === 0) {
          return { type: 'publish', topic, payload: this.src.slice(this.pos, this.end), qos, retain, dup };
        }
        const packetId = this.packetId();
        return { type: 'publish', topic, payload: this.src.slice(this.pos, this.end), qos, retain, dup, packetId };
      }
      // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: remaining length exactly 2 (checkLength), the packet identifier.
      case 4: case 5: case 6: case 7: case 11:
        return { type: TYPES[first >> 4] as 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback', packetId: this.packetId() };
      case 9: {
        const packetId = this.packetId();
        const granted: SubackReturnCode[] = [];
        do {
          const code = this.u8();
          if (code > 2 && code !== 0x80) throw fail('bad-return-code', `SUBACK return code ${code} is reserved [MQTT-3.9.3-2]`);
          granted.push(code as SubackReturnCode);
        } while (this.pos < this.end);
        return { type: 'suback', packetId, granted };
      }
      // PINGRESP: remaining length exactly 0 (checkLength).
      default: return { type: 'pingresp' };
    }
  }

  /**
   * A packet only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
   * DISCONNECT): a device never accepts one from its broker. The broker side
   * of the codec lives with the tests (test-sim/test/mqtt/broker-codec.ts),
   * which parse them by overriding this method.
   */
  protected clientPacket(type: number): Packet {
    throw fail('client-packet', `${nameOf(type)} is a packet only a client sends`);
  }

  /** Name of the packet being parsed, for messages. */
  private get name(): string {
    return nameOf(this.first >> 4);
  }

  /** Throws unless `n` more bytes are left in the body. */
  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw fail('bad-length', `${this.name} ${what}`);
  }

  protected u8(): number {
    this.need(1, 'ends inside a field');
    return this.src[this.pos++];
  }

  protected u16(): number {
    this.need(2, 'ends inside a field');
    const value = (this.src[this.pos] << 8) | this.src[this.pos + 1];
    this.pos += 2;
    return value;
  }

  /** A non-zero packet identifier [MQTT-2.3.1-1] [MQTT-2.3.1-6] [MQTT-2.3.1-7]. */
  protected packetId(): number {
    const id = this.u16();
    if (id === 0) throw fail('bad-packet-id', `${this.name} packet identifier is 0 [MQTT-2.3.1-1]`);
    return id;
  }

  /** A length-prefixed UTF-8 string (§1.5.3). */
  protected string(what: string): string {
    const n = this.u16();
    this.need(n, `${what} runs past the packet`);
    const s = utf8Read(this.src, this.pos, this.pos + n);
    if (s === undefined) throw fail('bad-utf8', `${this.name} ${what} is not well-formed UTF-8 [MQTT-1.5.3-1] [MQTT-1.5.3-2]`);
    this.pos += n;
    return s;
  }

  /** Length-prefixed binary data, copied. */
  protected binary(): Uint8Array {
    const n = this.u16();
    this.need(n, 'field runs past the packet');
    const bytes = this.src.slice(this.pos, this.pos + n);
    this.pos += n;
    return bytes;
  }
}

export type DecodeError = MqttError<DecodeErrorKind>;

export function fail(kind: DecodeErrorKind, message: string): DecodeError {
  return new MqttError(kind, message);
}

/** Checks fixed header byte 1 (§2.2.1, §2.2.2). */
function checkFirstByte(b: number): DecodeError | undefined {
  const type = b >> 4;
  const flags = b & 0x0f;
  if (type === 0 || type === 15) return fail('unknown-packet-type', `packet type ${type} is reserved (§2.2.1)`);
  if (type === 3) {
    const qos = (flags >> 1) & 3;
    if (qos === 3) return fail('bad-qos', 'PUBLISH with both QoS bits set [MQTT-3.3.1-4]');
    if (qos === 0 && flags & 0x08) return fail('bad-flags', 'PUBLISH with DUP set at QoS 0 [MQTT-3.3.1-2]');
    return undefined;
  }
  const expected = fixedFlags(type);
  if (flags !== expected) {
    return fail('bad-flags', `${nameOf(type)} reserved flags are ${flags}, must be ${expected} [MQTT-2.2.2-1]`);
  }
  return undefined;
}

/**
 * Rejects remaining lengths no valid packet of the type can have, before its
 * body is read: exact sizes (§3.2.1, §3.4.1 ...) and structural minimums.
 */
function checkLength(first: number, length: number): DecodeError | undefined {
  const type = first >> 4;
  let min: number;
  let max = MAX_REMAINING_LENGTH;
  switch (type) {
    case 1: min = 12; break; // protocol name 6, level 1, flags 1, keep alive 2, client id length 2
    case 2: case 4: case 5: case 6: case 7: case 11: min = max = 2; break;
    case 3: min = (first & 6) === 0 ? 2 : 4; break; // topic length, packet identifier
    case 8: min = 5; break; // packet identifier, one filter length, options
    case 9: min = 3; break; // packet identifier, one return code
    case 10: min = 4; break; // packet identifier, one filter length
    default: min = max = 0; break; // PINGREQ, PINGRESP, DISCONNECT
  }
  if (length < min || length > max) {
    return fail('bad-length', `${nameOf(type)} remaining length ${length} is impossible (${min === max ? min : `at least ${min}`})`);
  }
  return undefined;
}
