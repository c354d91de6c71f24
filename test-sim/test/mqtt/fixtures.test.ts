// Byte fixtures for every MQTT 3.1.1 packet type, commented field by field
// against the OASIS standard (29 October 2014). Each fixture decodes, encodes
// and round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Packet } from '../../../firmware/mqtt/packets';
import { remainingLengthSize } from '../../../firmware/mqtt/codec';
import { encode, sizeOf } from './broker-codec';
import { MqttDecoder } from './broker-codec';

function decodeAll(bytes: Uint8Array): Packet[] {
  const decoder = new MqttDecoder({ maxPacketSize: 4096 });
  const packets: Packet[] = [];
  const error = decoder.push(bytes, (packet) => packets.push(packet));
  assert.equal(error, undefined, error?.message);
  return packets;
}

function encodeOne(packet: Packet): Uint8Array {
  const out = new Uint8Array(sizeOf(packet));
  assert.equal(encode(packet, out), out.length);
  return out;
}

function fixture(name: string, packet: Packet, bytes: number[]): void {
  test(name, async (t) => {
    const wire = Uint8Array.from(bytes);
    await t.test('decodes', () => assert.deepEqual(decodeAll(wire), [packet]));
    await t.test('encodes', () => assert.deepEqual(encodeOne(packet), wire));
    await t.test('round trips', () => {
      assert.deepEqual(decodeAll(encodeOne(packet)), [packet]);
      assert.deepEqual(encodeOne(decodeAll(wire)[0]), wire);
    });
  });
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

fixture('CONNECT with a client id, clean session and keep alive', {
  type: 'connect', clientId: 'test', cleanSession: true, keepAlive: 30,
}, [
  16, 16, // Header: CONNECT, flags 0000 [MQTT-2.2.2-1]; remaining length 16
  0, 4, 77, 81, 84, 84, // Protocol name "MQTT" [MQTT-3.1.2-1]
  4, // Protocol level 4 = 3.1.1 [MQTT-3.1.2-2]
  2, // Connect flags: clean session; reserved bit 0 is 0 [MQTT-3.1.2-3]
  0, 30, // Keep alive: 30 s
  0, 4, 116, 101, 115, 116, // Client id "test", first in the payload [MQTT-3.1.3-3]
]);

fixture('CONNECT with a will, user name and password, keeping the session', {
  type: 'connect', clientId: 'dev-1', cleanSession: false, keepAlive: 1200,
  will: { topic: 'lwt', payload: text('off'), qos: 1, retain: true },
  username: 'u', password: text('pw'),
}, [
  16, 34, // Header: CONNECT; remaining length 34
  0, 4, 77, 81, 84, 84, // Protocol name "MQTT"
  4, // Protocol level 4
  236, // Connect flags: user name 0x80, password 0x40, will retain 0x20, will QoS 1 0x08, will 0x04, clean session 0
  4, 176, // Keep alive: 1200 s
  0, 5, 100, 101, 118, 45, 49, // Client id "dev-1"
  0, 3, 108, 119, 116, // Will topic "lwt" [MQTT-3.1.2-9] [MQTT-3.1.3-10]
  0, 3, 111, 102, 102, // Will message "off"
  0, 1, 117, // User name "u" [MQTT-3.1.2-19]
  0, 2, 112, 119, // Password "pw" [MQTT-3.1.2-21], in the order of [MQTT-3.1.3-1]
]);

fixture('CONNECT with an empty client id and clean session', {
  type: 'connect', clientId: '', cleanSession: true, keepAlive: 0,
}, [
  16, 12, // Header: CONNECT; remaining length 12
  0, 4, 77, 81, 84, 84, // Protocol name "MQTT"
  4, // Protocol level 4
  2, // Connect flags: clean session, required with an empty client id [MQTT-3.1.3-7]
  0, 0, // Keep alive: 0, off
  0, 0, // Client id: empty, the server assigns one [MQTT-3.1.3-6]
]);

fixture('CONNACK accepting with a session present', {
  type: 'connack', sessionPresent: true, returnCode: 0,
}, [
  32, 2, // Header: CONNACK, flags 0000; remaining length 2 (§3.2.1)
  1, // Acknowledge flags: session present [MQTT-3.2.2-2]
  0, // Return code 0: accepted
]);

fixture('CONNACK refusing as not authorized', {
  type: 'connack', sessionPresent: false, returnCode: 5,
}, [
  32, 2, // Header: CONNACK; remaining length 2
  0, // Acknowledge flags: no session with a non-zero return code [MQTT-3.2.2-4]
  5, // Return code 5: not authorized
]);

fixture('PUBLISH at QoS 0', {
  type: 'publish', topic: 'a/b', payload: text('hi'), qos: 0, retain: false, dup: false,
}, [
  48, 7, // Header: PUBLISH, DUP 0, QoS 0, retain 0; remaining length 7
  0, 3, 97, 47, 98, // Topic name "a/b" [MQTT-3.3.2-1]; no packet identifier at QoS 0 [MQTT-2.3.1-5]
  104, 105, // Payload "hi"
]);

fixture('PUBLISH at QoS 1, retained', {
  type: 'publish', topic: 'a/b', payload: Uint8Array.of(1, 2), qos: 1, retain: true, dup: false, packetId: 10,
}, [
  51, 9, // Header: PUBLISH, DUP 0, QoS 1, retain 1; remaining length 9
  0, 3, 97, 47, 98, // Topic name "a/b"
  0, 10, // Packet identifier 10 [MQTT-2.3.1-1]
  1, 2, // Payload
]);

fixture('PUBLISH at QoS 2, redelivered, with an empty payload', {
  type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 2, retain: false, dup: true, packetId: 65535,
}, [
  60, 5, // Header: PUBLISH, DUP 1 [MQTT-3.3.1-1], QoS 2, retain 0; remaining length 5
  0, 1, 116, // Topic name "t"
  255, 255, // Packet identifier 65535
  // Payload: zero bytes
]);

fixture('PUBLISH with multi-byte UTF-8 in the topic', {
  type: 'publish', topic: 'é/🙂', payload: new Uint8Array(0), qos: 0, retain: false, dup: false,
}, [
  48, 9, // Header: PUBLISH, QoS 0; remaining length 9
  0, 7, // Topic name length: 7 bytes
  195, 169, // U+00E9 "é", 2 bytes
  47, // "/"
  240, 159, 153, 130, // U+1F642 "🙂", 4 bytes (a surrogate pair in JavaScript) [MQTT-1.5.3-1]
]);

fixture('PUBLISH keeps a leading U+FEFF in the topic', {
  type: 'publish', topic: '\ufeffa', payload: new Uint8Array(0), qos: 0, retain: false, dup: false,
}, [
  48, 6, // Header: PUBLISH, QoS 0; remaining length 6
  0, 4, 239, 187, 191, 97, // Topic name U+FEFF "a": the BOM is not stripped [MQTT-1.5.3-3]
]);

fixture('PUBLISH with a two-byte remaining length', {
  type: 'publish', topic: 't', payload: new Uint8Array(125).fill(0x55), qos: 0, retain: false, dup: false,
}, [
  48, 128, 1, // Header: PUBLISH, QoS 0; remaining length 128 = 0x80 0x01, low 7 bits first (§2.2.3)
  0, 1, 116, // Topic name "t"
  ...new Array<number>(125).fill(0x55), // Payload: 125 bytes
]);

fixture('PUBACK', { type: 'puback', packetId: 10 }, [
  64, 2, // Header: PUBACK, flags 0000; remaining length 2 (§3.4.1)
  0, 10, // Packet identifier of the PUBLISH [MQTT-2.3.1-6]
]);

fixture('PUBREC', { type: 'pubrec', packetId: 10 }, [
  80, 2, // Header: PUBREC, flags 0000; remaining length 2 (§3.5.1)
  0, 10, // Packet identifier
]);

fixture('PUBREL', { type: 'pubrel', packetId: 10 }, [
  98, 2, // Header: PUBREL, flags 0010 [MQTT-3.6.1-1]; remaining length 2
  0, 10, // Packet identifier
]);

fixture('PUBCOMP', { type: 'pubcomp', packetId: 10 }, [
  112, 2, // Header: PUBCOMP, flags 0000; remaining length 2 (§3.7.1)
  0, 10, // Packet identifier
]);

fixture('SUBSCRIBE to two topic filters', {
  type: 'subscribe', packetId: 1, subscriptions: [{ topic: 'a/+', qos: 1 }, { topic: '#', qos: 0 }],
}, [
  130, 12, // Header: SUBSCRIBE, flags 0010 [MQTT-3.8.1-1]; remaining length 12
  0, 1, // Packet identifier 1 [MQTT-2.3.1-1]
  0, 3, 97, 47, 43, // Topic filter "a/+" [MQTT-3.8.3-1] [MQTT-4.7.1-3]
  1, // Requested QoS 1; bits 7-2 reserved 0 [MQTT-3-8.3-4]
  0, 1, 35, // Topic filter "#" [MQTT-4.7.1-2]
  0, // Requested QoS 0
]);

fixture('SUBACK with every return code', {
  type: 'suback', packetId: 1, granted: [0, 1, 2, 0x80],
}, [
  144, 6, // Header: SUBACK, flags 0000; remaining length 6
  0, 1, // Packet identifier of the SUBSCRIBE [MQTT-2.3.1-7]
  0, 1, 2, // Granted QoS 0, 1, 2, in the SUBSCRIBE's order [MQTT-3.9.3-1]
  128, // 0x80: failure [MQTT-3.9.3-2]
]);

fixture('UNSUBSCRIBE from two topic filters', {
  type: 'unsubscribe', packetId: 2, topics: ['a/+', '#'],
}, [
  162, 10, // Header: UNSUBSCRIBE, flags 0010 [MQTT-3.10.1-1]; remaining length 10
  0, 2, // Packet identifier 2
  0, 3, 97, 47, 43, // Topic filter "a/+" [MQTT-3.10.3-1]
  0, 1, 35, // Topic filter "#"
]);

fixture('UNSUBACK', { type: 'unsuback', packetId: 2 }, [
  176, 2, // Header: UNSUBACK, flags 0000; remaining length 2 (§3.11.1)
  0, 2, // Packet identifier of the UNSUBSCRIBE [MQTT-2.3.1-7]
]);

fixture('PINGREQ', { type: 'pingreq' }, [
  192, 0, // Header: PINGREQ, flags 0000; remaining length 0 (§3.12.1)
]);

fixture('PINGRESP', { type: 'pingresp' }, [
  208, 0, // Header: PINGRESP, flags 0000; remaining length 0 (§3.13.1)
]);

fixture('DISCONNECT', { type: 'disconnect' }, [
  224, 0, // Header: DISCONNECT, flags 0000 [MQTT-3.14.1-1]; remaining length 0
]);

test('several packets in one chunk decode in order', () => {
  const wire = Uint8Array.of(
    32, 2, 0, 0, // CONNACK accepted
    144, 3, 0, 1, 1, // SUBACK id 1, QoS 1
    48, 4, 0, 1, 116, 33, // PUBLISH "t", payload "!"
    208, 0, // PINGRESP
  );
  assert.deepEqual(decodeAll(wire), [
    { type: 'connack', sessionPresent: false, returnCode: 0 },
    { type: 'suback', packetId: 1, granted: [1] },
    { type: 'publish', topic: 't', payload: Uint8Array.of(33), qos: 0, retain: false, dup: false },
    { type: 'pingresp' },
  ]);
});

test('remaining length uses the variable length encoding of Table 2.4', () => {
  const cases: [length: number, bytes: number[]][] = [
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [16_383, [0xff, 0x7f]],
    [16_384, [0x80, 0x80, 0x01]],
    [2_097_151, [0xff, 0xff, 0x7f]],
    [2_097_152, [0x80, 0x80, 0x80, 0x01]],
  ];
  for (const [length, bytes] of cases) {
    assert.equal(remainingLengthSize(length), bytes.length);
    if (length < 3) continue;
    // PUBLISH "t" at QoS 0: 3 bytes of topic, the rest payload.
    const packet: Packet = {
      type: 'publish', topic: 't', payload: new Uint8Array(length - 3), qos: 0, retain: false, dup: false,
    };
    const wire = encodeOne(packet);
    assert.deepEqual([...wire.subarray(1, 1 + bytes.length)], bytes, `remaining length ${length}`);
  }
  assert.equal(remainingLengthSize(268_435_455), 4);
});
