/**
 * MQTT 3.1.1 control packets as plain objects tagged by `type`
 * (OASIS MQTT Version 3.1.1, chapter 3). Strings are JavaScript strings and are
 * UTF-8 on the wire; binary fields are Uint8Array. Packet identifiers are
 * 1..65535 [MQTT-2.3.1-1].
 */
import { codeAt } from './utf8';

export type QoS = 0 | 1 | 2;

/** CONNACK return codes (Table 3.1); 6..255 are reserved. */
export type ConnectReturnCode = 0 | 1 | 2 | 3 | 4 | 5;

/** SUBACK return codes: the granted QoS, or 0x80 for failure [MQTT-3.9.3-2]. */
export type SubackReturnCode = 0 | 1 | 2 | 0x80;

export interface Will {
  /** A topic name: no wildcards [MQTT-3.1.3-10]. */
  topic: string;
  /** 0..65535 bytes. */
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface ConnectPacket {
  type: 'connect';
  /** May be empty only with `cleanSession` [MQTT-3.1.3-7]. */
  clientId: string;
  cleanSession: boolean;
  /** Seconds, 0..65535; 0 turns keep alive off. */
  keepAlive: number;
  username?: string;
  /** Requires `username` [MQTT-3.1.2-22]. */
  password?: Uint8Array;
  will?: Will;
}

export interface ConnackPacket {
  type: 'connack';
  /** Always false when `returnCode` is not 0 [MQTT-3.2.2-4]. */
  sessionPresent: boolean;
  returnCode: ConnectReturnCode;
}

export interface PublishPacket {
  type: 'publish';
  /** A topic name: at least one character, no wildcards [MQTT-3.3.2-2] [MQTT-4.7.3-1]. */
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** Only with QoS 1 or 2 [MQTT-3.3.1-2]. */
  dup: boolean;
  /** Present exactly when QoS is 1 or 2 [MQTT-2.3.1-5]. */
  packetId?: number;
}

export interface PubackPacket {
  type: 'puback';
  packetId: number;
}

export interface PubrecPacket {
  type: 'pubrec';
  packetId: number;
}

export interface PubrelPacket {
  type: 'pubrel';
  packetId: number;
}

export interface PubcompPacket {
  type: 'pubcomp';
  packetId: number;
}

export interface Subscription {
  /** A topic filter (§4.7.1). */
  topic: string;
  qos: QoS;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  /** At least one [MQTT-3.8.3-3]. */
  subscriptions: readonly Subscription[];
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** One per requested subscription, in order [MQTT-3.9.3-1]. */
  granted: readonly SubackReturnCode[];
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  /** Topic filters; at least one [MQTT-3.10.3-2]. */
  topics: readonly string[];
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
}

export interface PingreqPacket {
  type: 'pingreq';
}

export interface PingrespPacket {
  type: 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket;

export type PacketType = Packet['type'];

/** Each packet's `type` by its control packet type number, fixed header bits 7-4 (§2.2.1, Table 2.1); 0 and 15 are reserved. */
export const TYPES = [
  'reserved', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'reserved',
] as const;

/**
 * Fixed header flags of every type but PUBLISH: PUBREL, SUBSCRIBE and
 * UNSUBSCRIBE carry 0010, every other type 0000
 * [MQTT-2.2.2-1] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1].
 */
export function fixedFlags(type: number): number {
  return type === 6 || type === 8 || type === 10 ? 2 : 0;
}

/** Names of CONNACK return codes for logs (Table 3.1). */
export function describeReturnCode(code: number): string {
  return ['accepted', 'unacceptable protocol version', 'identifier rejected', 'server unavailable', 'bad user name or password', 'not authorized'][code] ?? 'reserved';
}

/**
 * A valid topic name: at least one character [MQTT-4.7.3-1] and no wildcard
 * characters [MQTT-4.7.1-1]. UTF-8 validity is checked where strings are coded.
 */
export function isTopicName(topic: string): boolean {
  const n = topic.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = codeAt(topic, i);
    if (c === 0x23 || c === 0x2b) return false; // '#', '+'
  }
  return true;
}

/**
 * A valid topic filter: at least one character [MQTT-4.7.3-1]; '#' only alone
 * or after '/', and last [MQTT-4.7.1-2]; '+' only as a whole level [MQTT-4.7.1-3].
 */
export function isTopicFilter(filter: string): boolean {
  const n = filter.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = codeAt(filter, i);
    if (c !== 0x23 && c !== 0x2b) continue;
    if (i > 0 && codeAt(filter, i - 1) !== 0x2f) return false; // '/'
    if (c === 0x23 ? i !== n - 1 : i < n - 1 && codeAt(filter, i + 1) !== 0x2f) return false;
  }
  return true;
}
