/**
 * MQTT 3.1.1 packet encoder for the packets a client sends (CONNECT, PUBLISH,
 * PUBACK, PUBREC, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT; the
 * broker's, test-sim/test/mqtt/broker-codec.ts). Size a packet with `sizeOf`, then `encode` it into
 * a buffer the caller owns; neither allocates (indexed loops, no iterators)
 * unless it throws. Both validate every field
 * against MQTT 3.1.1 and throw `MqttError` on misuse ('invalid-argument',
 * 'packet-too-large', 'buffer-too-small'); `encode` writes nothing when it throws.
 * Everything `encode` accepts, `MqttDecoder` decodes to an equal packet; the
 * decoder also accepts one packet `encode` refuses, a CONNECT with an empty
 * client id and no clean session, which a server must answer with return code 2
 * [MQTT-3.1.3-8].
 */
import type { Packet, QoS } from './packets';
import { TYPES, fixedFlags, isTopicFilter, isTopicName } from './packets';
import { MqttError } from './errors';
import { utf8Length, utf8Write } from './utf8';

/** Largest remaining length the 4-byte variable length can carry (§2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** Bytes the remaining-length field takes for `length` (1..4). */
export function remainingLengthSize(length: number): number {
  return length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x20_0000 ? 3 : 4;
}

/** Total bytes of `packet` on the wire, fixed header included. Throws like `encode`. */
export function sizeOf(packet: Packet): number {
  const length = remainingLength(packet);
  return 1 + remainingLengthSize(length) + length;
}

/**
 * Writes `packet` at `out[offset]` and returns the number of bytes written
 * (`sizeOf(packet)`). `length`: its `remainingLength`, when the caller has it.
 */
export function encode(packet: Packet, out: Uint8Array, offset = 0, length = remainingLength(packet)): number {
  const size = 1 + remainingLengthSize(length) + length;
  if (!(out instanceof Uint8Array)) invalid('out must be a Uint8Array');
  if (!Number.isInteger(offset) || offset < 0 || offset > out.length) invalid(`offset ${offset} outside the buffer`);
  if (out.length - offset < size) {
    throw new MqttError('buffer-too-small', `${packet.type} needs ${size} bytes, ${out.length - offset} available`);
  }

  let p = offset;
  // Fixed header byte 1: type and flags (§2.2); PUBLISH's flags vary.
  const type = TYPES.indexOf(packet.type);
  out[p++] = packet.type === 'publish'
    ? 0x30 | (packet.dup ? 0x08 : 0) | (packet.qos << 1) | (packet.retain ? 0x01 : 0)
    : (type << 4) | fixedFlags(type);
  let rest = length;
  do {
    const digit = rest % 0x80;
    rest = Math.floor(rest / 0x80);
    out[p++] = rest > 0 ? digit | 0x80 : digit;
  } while (rest > 0);

  switch (packet.type) {
    case 'connect': {
      const { will, username, password } = packet;
      // Protocol name "MQTT" and level 4 [MQTT-3.1.2-1] [MQTT-3.1.2-2].
      out[p++] = 0; out[p++] = 4; out[p++] = 0x4d; out[p++] = 0x51; out[p++] = 0x54; out[p++] = 0x54;
      out[p++] = 4;
      out[p++] =
        (username !== undefined ? 0x80 : 0) |
        (password !== undefined ? 0x40 : 0) |
        (will !== undefined ? 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0) : 0) |
        (packet.cleanSession ? 0x02 : 0);
      p = writeU16(out, p, packet.keepAlive);
      // Payload order [MQTT-3.1.3-1].
      p = writeString(out, p, packet.clientId);
      if (will !== undefined) {
        p = writeString(out, p, will.topic);
        p = writeBinary(out, p, will.payload);
      }
      if (username !== undefined) p = writeString(out, p, username);
      if (password !== undefined) p = writeBinary(out, p, password);
      break;
    }
    case 'publish':
      p = writeString(out, p, packet.topic);
      if (packet.qos > 0) p = writeU16(out, p, packet.packetId as number);
      out.set(packet.payload, p);
      p += packet.payload.length;
      break;
    case 'puback':
    case 'pubrec':
    case 'pubcomp':
      p = writeU16(out, p, packet.packetId);
      break;
    case 'subscribe':
      p = writeU16(out, p, packet.packetId);
      for (let i = 0; i < packet.subscriptions.length; i++) {
        p = writeString(out, p, packet.subscriptions[i].topic);
        out[p++] = packet.subscriptions[i].qos;
      }
      break;
    case 'unsubscribe':
      p = writeU16(out, p, packet.packetId);
      for (let i = 0; i < packet.topics.length; i++) p = writeString(out, p, packet.topics[i]);
      break;
    case 'pingreq':
    case 'disconnect':
      break;
  }
  return p - offset;
}

/** Validates `packet` and returns its remaining length. */
export function remainingLength(packet: Packet): number {
  if (packet === null || typeof packet !== 'object') invalid('packet must be an object');
  let length: number;
  switch (packet.type) {
    case 'connect': {
      const { will, username, password } = packet;
      checkU16(packet.keepAlive, 'keepAlive');
      const clientIdBytes = stringBytes(packet.clientId, 'clientId');
      if (clientIdBytes === 0 && !packet.cleanSession) invalid('an empty clientId requires cleanSession [MQTT-3.1.3-7]');
      length = 10 + 2 + clientIdBytes;
      if (will !== undefined) {
        checkQos(will.qos, 'will.qos');
        length += 2 + topicNameBytes(will.topic, 'will.topic') + 2 + binaryBytes(will.payload, 'will.payload');
      }
      if (username !== undefined) length += 2 + stringBytes(username, 'username');
      if (password !== undefined) {
        if (username === undefined) invalid('a password requires a username [MQTT-3.1.2-22]');
        length += 2 + binaryBytes(password, 'password');
      }
      break;
    }
    case 'publish': {
      checkQos(packet.qos, 'qos');
      if (!(packet.payload instanceof Uint8Array)) invalid('payload must be a Uint8Array');
      length = 2 + topicNameBytes(packet.topic, 'topic') + packet.payload.length;
      if (packet.qos > 0) {
        checkPacketId(packet.packetId);
        length += 2;
      } else {
        if (packet.packetId !== undefined) invalid('a QoS 0 publish has no packetId [MQTT-2.3.1-5]');
        if (packet.dup) invalid('dup must be false at QoS 0 [MQTT-3.3.1-2]');
      }
      break;
    }
    case 'puback':
    case 'pubrec':
    case 'pubcomp':
      checkPacketId(packet.packetId);
      length = 2;
      break;
    case 'subscribe': {
      checkPacketId(packet.packetId);
      const subscriptions = packet.subscriptions;
      if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
        invalid('subscribe needs at least one subscription [MQTT-3.8.3-3]');
      }
      length = 2;
      for (let i = 0; i < subscriptions.length; i++) {
        const { topic, qos } = subscriptions[i];
        checkQos(qos, 'subscription qos');
        length += 2 + filterBytes(topic) + 1;
      }
      break;
    }
    case 'unsubscribe': {
      checkPacketId(packet.packetId);
      const topics = packet.topics;
      if (!Array.isArray(topics) || topics.length === 0) invalid('unsubscribe needs at least one topic filter [MQTT-3.10.3-2]');
      length = 2;
      for (let i = 0; i < topics.length; i++) {
        length += 2 + filterBytes(topics[i]);
      }
      break;
    }
    case 'pingreq':
    case 'disconnect':
      length = 0;
      break;
    default:
      // CONNACK and SUBACK only a broker sends: the broker side lives with the tests (test-sim/test/mqtt/broker-codec.ts).
      invalid(`cannot encode packet type ${String((packet as { type: unknown }).type)}`);
  }
  if (length > MAX_REMAINING_LENGTH) {
    throw new MqttError('packet-too-large', `${packet.type} remaining length ${length} exceeds ${MAX_REMAINING_LENGTH}`);
  }
  return length;
}

export function invalid(message: string): never {
  throw new MqttError('invalid-argument', message);
}

/** `value` is an integer from `min` to 65535 (a two-byte integer, §1.5.2). */
function checkU16(value: number | undefined, what: string, min = 0): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > 0xffff) invalid(`${what} ${value} is outside ${min}..65535`);
}

/** A packet identifier is non-zero [MQTT-2.3.1-1]. */
export function checkPacketId(id: number | undefined): void {
  checkU16(id, 'packetId', 1);
}

function checkQos(qos: QoS, what: string): void {
  if (qos !== 0 && qos !== 1 && qos !== 2) invalid(`${what} ${qos} is not 0, 1 or 2`);
}

/** UTF-8 length of an MQTT string field (§1.5.3) [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-4.7.3-3]. */
function stringBytes(s: string, what: string): number {
  if (typeof s !== 'string') invalid(`${what} must be a string`);
  const n = utf8Length(s);
  if (n < 0) invalid(`${what} contains a lone surrogate or U+0000`);
  if (n > 0xffff) invalid(`${what} is ${n} bytes, more than 65535`);
  return n;
}

/** A topic name: not empty, no wildcards [MQTT-3.3.2-2] [MQTT-4.7.3-1]. */
function topicNameBytes(topic: string, what: string): number {
  if (!isTopicName(topic)) invalid(`${what} "${topic}" is empty or contains + or # [MQTT-3.3.2-2]`);
  return stringBytes(topic, what);
}

function filterBytes(topic: string): number {
  if (!isTopicFilter(topic)) invalid(`invalid topic filter [MQTT-4.7.1-2] [MQTT-4.7.1-3]`);
  return stringBytes(topic, 'topic filter');
}

function binaryBytes(b: Uint8Array, what: string): number {
  if (!(b instanceof Uint8Array)) invalid(`${what} must be a Uint8Array`);
  if (b.length > 0xffff) invalid(`${what} is ${b.length} bytes, more than 65535`);
  return b.length;
}

export function writeU16(out: Uint8Array, p: number, value: number): number {
  out[p] = value >> 8;
  out[p + 1] = value & 0xff;
  return p + 2;
}

function writeString(out: Uint8Array, p: number, s: string): number {
  const n = utf8Write(s, out, p + 2);
  writeU16(out, p, n);
  return p + 2 + n;
}

function writeBinary(out: Uint8Array, p: number, b: Uint8Array): number {
  writeU16(out, p, b.length);
  out.set(b, p + 2);
  return p + 2 + b.length;
}
