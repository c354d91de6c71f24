/**
 * The broker's halves of the MQTT 3.1.1 codec, which the device never needs:
 * parsing CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT, encoding
 * CONNACK, PUBREL (a client publishes at QoS 0 or 1), SUBACK, UNSUBACK and PINGRESP. With them, `encode`/`sizeOf`/`MqttDecoder` here cover
 * every packet type, so the fixture, differential and fuzz tests round-trip
 * all of MQTT through the firmware's code plus these halves. Same contracts
 * as firmware/mqtt/codec.ts and decoder.ts.
 */
import { checkPacketId, encode as deviceEncode, invalid, remainingLengthSize, sizeOf as deviceSizeOf, writeU16 } from '../../../firmware/mqtt/codec';
import { MqttDecoder as DeviceDecoder, fail } from '../../../firmware/mqtt/decoder';
import { MqttError } from '../../../firmware/mqtt/errors';
import { isTopicFilter, isTopicName, type ConnectPacket, type Packet, type QoS, type Subscription } from '../../../firmware/mqtt/packets';

/** Remaining length of the broker-only packets this module encodes, validated; undefined for the others. */
function brokerLength(packet: Packet): number | undefined {
  if (packet === null || typeof packet !== 'object') return undefined;
  if (packet.type === 'connack') {
    if (!Number.isInteger(packet.returnCode) || packet.returnCode < 0 || packet.returnCode > 5) invalid(`connack returnCode ${packet.returnCode} is reserved`);
    if (packet.sessionPresent && packet.returnCode !== 0) invalid('sessionPresent requires returnCode 0 [MQTT-3.2.2-4]');
    return 2;
  }
  if (packet.type === 'suback') {
    checkPacketId(packet.packetId);
    const granted = packet.granted;
    if (!Array.isArray(granted) || granted.length === 0) invalid('suback needs at least one return code');
    for (const code of granted) if (code !== 0 && code !== 1 && code !== 2 && code !== 0x80) invalid(`suback return code ${code} is reserved [MQTT-3.9.3-2]`);
    return 2 + granted.length;
  }
  if (packet.type === 'pubrel' || packet.type === 'unsuback') {
    checkPacketId(packet.packetId);
    return 2;
  }
  return packet.type === 'pingresp' ? 0 : undefined;
}

/** Fixed header byte 1 of the broker-only packets (§2.2, Table 2.2). */
const FIRST_BYTE: Partial<Record<Packet['type'], number>> = { connack: 0x20, pubrel: 0x62, suback: 0x90, unsuback: 0xb0, pingresp: 0xd0 };

export function sizeOf(packet: Packet): number {
  const length = brokerLength(packet);
  return length === undefined ? deviceSizeOf(packet) : 1 + remainingLengthSize(length) + length;
}

export function encode(packet: Packet, out: Uint8Array, offset = 0): number {
  const length = brokerLength(packet);
  if (length === undefined) return deviceEncode(packet, out, offset);
  if (!(out instanceof Uint8Array)) invalid('out must be a Uint8Array');
  if (!Number.isInteger(offset) || offset < 0 || offset > out.length) invalid(`offset ${offset} outside the buffer`);
  const size = 1 + remainingLengthSize(length) + length;
  if (out.length - offset < size) throw new MqttError('buffer-too-small', `${packet.type} needs ${size} bytes, ${out.length - offset} available`);
  let p = offset;
  out[p++] = FIRST_BYTE[packet.type]!;
  if (length >= 0x80) throw new Error('broker-codec: a suback of more than 125 codes is not needed by the tests');
  out[p++] = length;
  if (packet.type === 'connack') {
    out[p++] = packet.sessionPresent ? 1 : 0;
    out[p++] = packet.returnCode;
  } else if (packet.type === 'suback') {
    p = writeU16(out, p, packet.packetId);
    for (const code of packet.granted) out[p++] = code;
  } else if (packet.type === 'pubrel' || packet.type === 'unsuback') {
    p = writeU16(out, p, packet.packetId);
  }
  return p - offset;
}

/** The firmware's decoder, plus the packets only a client sends. */
export class MqttDecoder extends DeviceDecoder {
  protected override clientPacket(type: number): Packet {
    switch (type) {
      case 1: return this.parseConnect();
      case 8: {
        const packetId = this.packetId();
        const subscriptions: Subscription[] = [];
        do {
          const topic = this.string('topic filter');
          if (!isTopicFilter(topic)) throw fail('bad-topic', 'SUBSCRIBE topic filter is invalid [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]');
          const options = this.u8();
          if (options & 0xfc) throw fail('bad-flags', 'SUBSCRIBE options bits 7-2 are reserved [MQTT-3-8.3-4]');
          if ((options & 3) === 3) throw fail('bad-qos', 'SUBSCRIBE requested QoS 3 [MQTT-3-8.3-4]');
          subscriptions.push({ topic, qos: options as QoS });
        } while (this.pos < this.end);
        return { type: 'subscribe', packetId, subscriptions };
      }
      case 10: {
        const packetId = this.packetId();
        const topics: string[] = [];
        do {
          const topic = this.string('topic filter');
          if (!isTopicFilter(topic)) throw fail('bad-topic', 'UNSUBSCRIBE topic filter is invalid [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]');
          topics.push(topic);
        } while (this.pos < this.end);
        return { type: 'unsubscribe', packetId, topics };
      }
      case 12: return { type: 'pingreq' };
      default: return { type: 'disconnect' };
    }
  }

  private parseConnect(): ConnectPacket {
    // Protocol name "MQTT" [MQTT-3.1.2-1] and level 4 [MQTT-3.1.2-2].
    const nameLength = this.u16();
    if (nameLength !== 4) throw fail('bad-protocol', 'CONNECT protocol name is not "MQTT" [MQTT-3.1.2-1]');
    const s = this.src;
    const p = this.pos;
    if (this.end - p < 4) throw fail('bad-length', 'CONNECT ends inside the protocol name');
    if (s[p] !== 0x4d || s[p + 1] !== 0x51 || s[p + 2] !== 0x54 || s[p + 3] !== 0x54) {
      throw fail('bad-protocol', 'CONNECT protocol name is not "MQTT" [MQTT-3.1.2-1]');
    }
    this.pos += 4;
    const level = this.u8();
    if (level !== 4) throw fail('bad-protocol', `CONNECT protocol level ${level} is not 4 [MQTT-3.1.2-2]`);
    const flags = this.u8();
    if (flags & 0x01) throw fail('bad-flags', 'CONNECT reserved flag is set [MQTT-3.1.2-3]');
    const hasWill = (flags & 0x04) !== 0;
    const willQos = (flags >> 3) & 3;
    const willRetain = (flags & 0x20) !== 0;
    if (!hasWill && (willQos !== 0 || willRetain)) {
      throw fail('bad-flags', 'CONNECT will QoS or retain without a will [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]');
    }
    if (willQos === 3) throw fail('bad-qos', 'CONNECT will QoS 3 [MQTT-3.1.2-14]');
    const hasUsername = (flags & 0x80) !== 0;
    const hasPassword = (flags & 0x40) !== 0;
    if (hasPassword && !hasUsername) throw fail('bad-flags', 'CONNECT password without user name [MQTT-3.1.2-22]');
    const packet: ConnectPacket = {
      type: 'connect',
      clientId: '',
      cleanSession: (flags & 0x02) !== 0,
      keepAlive: this.u16(),
    };
    // Payload order [MQTT-3.1.3-1].
    packet.clientId = this.string('client id');
    if (hasWill) {
      const topic = this.string('will topic');
      if (!isTopicName(topic)) throw fail('bad-topic', 'CONNECT will topic is empty or has wildcards [MQTT-4.7.1-1] [MQTT-4.7.3-1]');
      packet.will = { topic, payload: this.binary(), qos: willQos as QoS, retain: willRetain };
    }
    if (hasUsername) packet.username = this.string('user name');
    if (hasPassword) packet.password = this.binary();
    if (this.pos !== this.end) throw fail('bad-length', `CONNECT has ${this.end - this.pos} bytes after its last field`);
    return packet;
  }
}
