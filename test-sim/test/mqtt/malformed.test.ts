// Malformed input returns the right typed error kind; misuse of the encoder throws one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Packet } from '../../../firmware/mqtt/packets';
import type { MqttErrorKind } from '../../../firmware/mqtt/errors';
import { MqttError } from '../../../firmware/mqtt/errors';
import { encode, sizeOf } from './broker-codec';
import { MqttDecoder } from './broker-codec';

/** Pushes `bytes` whole, then one byte at a time; both must end in `kind`. */
function rejects(bytes: number[], kind: MqttErrorKind, maxPacketSize = 1024): void {
  const whole = new MqttDecoder({ maxPacketSize });
  const error = whole.push(Uint8Array.from(bytes), () => assert.fail('no packet expected'));
  assert.ok(error instanceof MqttError, `expected ${kind}, got no error`);
  assert.equal(error.kind, kind, error.message);

  const bytewise = new MqttDecoder({ maxPacketSize });
  let last: MqttError | undefined;
  for (const b of bytes) last = bytewise.push(Uint8Array.of(b), () => assert.fail('no packet expected'));
  assert.equal(last?.kind, kind);
}

const MQTT = [0, 4, 77, 81, 84, 84];

test('remaining length longer than 4 bytes is malformed-length (§2.2.3)', () => {
  const decoder = new MqttDecoder({ maxPacketSize: 1024 });
  // Three continuation bytes are still a valid prefix.
  assert.equal(decoder.push(Uint8Array.of(0x30, 0xff, 0xff, 0xff), () => {}), undefined);
  // A fourth byte with the continuation bit would need a fifth.
  assert.equal(decoder.push(Uint8Array.of(0xff), () => {})?.kind, 'malformed-length');
  rejects([0x30, 0x80, 0x80, 0x80, 0x80, 0x01], 'malformed-length');
});

test('the largest 4-byte remaining length is well-formed, and too large here', () => {
  rejects([0x30, 0xff, 0xff, 0xff, 0x7f], 'packet-too-large');
});

test('an oversize packet is rejected from its fixed header, before any body byte', () => {
  const decoder = new MqttDecoder({ maxPacketSize: 1024 });
  // PUBLISH announcing 2,097,152 remaining bytes; only the fixed header is pushed.
  const error = decoder.push(Uint8Array.of(0x30, 0x80, 0x80, 0x80, 0x01), () => {});
  assert.equal(error?.kind, 'packet-too-large');
  assert.equal(decoder.buffered, 0);
  assert.equal(decoder.capacity, 1022);
});

test('maxPacketSize counts the whole packet, fixed header included', () => {
  const publish = [0x30, 0x05, 0, 1, 116, 1, 2]; // 7 bytes
  const packets: Packet[] = [];
  assert.equal(new MqttDecoder({ maxPacketSize: 7 }).push(Uint8Array.from(publish), (p) => packets.push(p)), undefined);
  assert.equal(packets.length, 1);
  rejects(publish, 'packet-too-large', 6);
});

test('packet types 0 and 15 are unknown-packet-type (§2.2.1)', () => {
  rejects([0x00, 0x00], 'unknown-packet-type');
  rejects([0xf0, 0x00], 'unknown-packet-type');
  // Rejected on the first byte, before any length.
  assert.equal(new MqttDecoder({ maxPacketSize: 64 }).push(Uint8Array.of(0xf0), () => {})?.kind, 'unknown-packet-type');
});

test('reserved fixed-header flags are bad-flags [MQTT-2.2.2-1] [MQTT-2.2.2-2]', () => {
  rejects([0x60, 2, 0, 1], 'bad-flags'); // PUBREL must be 0010 [MQTT-3.6.1-1]
  rejects([0x63, 2, 0, 1], 'bad-flags');
  rejects([0x80, 6, 0, 1, 0, 1, 97, 0], 'bad-flags'); // SUBSCRIBE must be 0010 [MQTT-3.8.1-1]
  rejects([0xa0, 5, 0, 1, 0, 1, 97], 'bad-flags'); // UNSUBSCRIBE must be 0010 [MQTT-3.10.1-1]
  rejects([0x91, 3, 0, 1, 0], 'bad-flags'); // SUBACK must be 0000
  rejects([0x42, 2, 0, 1], 'bad-flags'); // PUBACK
  rejects([0x28, 2, 0, 0], 'bad-flags'); // CONNACK
  rejects([0xd1, 0], 'bad-flags'); // PINGRESP
  rejects([0xe2, 0], 'bad-flags'); // DISCONNECT [MQTT-3.14.1-1]
  rejects([0x38, 3, 0, 1, 116], 'bad-flags'); // PUBLISH DUP at QoS 0 [MQTT-3.3.1-2]
});

test('PUBLISH with QoS 3 is bad-qos [MQTT-3.3.1-4]', () => {
  rejects([0x36, 5, 0, 1, 116, 0, 1], 'bad-qos');
  rejects([0x3f], 'bad-qos');
});

test('CONNACK return codes 6..255 are bad-return-code (Table 3.1)', () => {
  rejects([0x20, 2, 0, 6], 'bad-return-code');
  rejects([0x20, 2, 0, 255], 'bad-return-code');
});

test('CONNACK has exactly 2 bytes and sane acknowledge flags', () => {
  rejects([0x20, 3, 0, 0, 0], 'bad-length');
  rejects([0x20, 1, 0], 'bad-length');
  // The length alone is enough: no body bytes are awaited.
  assert.equal(new MqttDecoder({ maxPacketSize: 64 }).push(Uint8Array.of(0x20, 3), () => {})?.kind, 'bad-length');
  rejects([0x20, 2, 2, 0], 'bad-flags'); // bits 7-1 reserved (§3.2.2.1)
  rejects([0x20, 2, 1, 5], 'bad-flags'); // session present with a refusal [MQTT-3.2.2-4]
});

test('SUBACK return codes other than 0, 1, 2, 0x80 are bad-return-code [MQTT-3.9.3-2]', () => {
  rejects([0x90, 3, 0, 1, 3], 'bad-return-code');
  rejects([0x90, 4, 0, 1, 0, 0x81], 'bad-return-code');
  rejects([0x90, 2, 0, 1], 'bad-length'); // no return code at all
});

test('ill-formed UTF-8 in a topic is bad-utf8 [MQTT-1.5.3-1] [MQTT-1.5.3-2]', () => {
  const publish = (topic: number[]): number[] => [0x30, 2 + topic.length, 0, topic.length, ...topic];
  rejects(publish([0xc0, 0xaf]), 'bad-utf8'); // overlong "/"
  rejects(publish([0xe0, 0x80, 0xaf]), 'bad-utf8'); // overlong, 3 bytes
  rejects(publish([0xed, 0xa0, 0x80]), 'bad-utf8'); // U+D800, a surrogate
  rejects(publish([0xed, 0xbf, 0xbf]), 'bad-utf8'); // U+DFFF
  rejects(publish([0xf4, 0x90, 0x80, 0x80]), 'bad-utf8'); // U+110000, above Unicode
  rejects(publish([0xe2, 0x82]), 'bad-utf8'); // truncated sequence
  rejects(publish([0x61, 0x80]), 'bad-utf8'); // lone continuation byte
  rejects(publish([0xff]), 'bad-utf8'); // never valid
  rejects(publish([0x61, 0x00]), 'bad-utf8'); // U+0000 [MQTT-1.5.3-2]
  // Also in SUBSCRIBE filters and CONNECT strings.
  rejects([0x82, 6, 0, 1, 0, 1, 0xc3, 0], 'bad-utf8');
  rejects([0x10, 13, ...MQTT, 4, 2, 0, 0, 0, 1, 0xff], 'bad-utf8');
});

test('topics must be non-empty and PUBLISH topics wildcard-free (§4.7)', () => {
  rejects([0x30, 2, 0, 0], 'bad-topic'); // [MQTT-4.7.3-1]
  rejects([0x30, 3, 0, 1, 35], 'bad-topic'); // "#" [MQTT-3.3.2-2]
  rejects([0x30, 5, 0, 3, 97, 47, 43], 'bad-topic'); // "a/+"
  rejects([0x82, 7, 0, 1, 0, 2, 97, 35, 0], 'bad-topic'); // filter "a#" [MQTT-4.7.1-2]
  rejects([0x82, 8, 0, 1, 0, 3, 35, 47, 97, 0], 'bad-topic'); // filter "#/a"
  rejects([0xa2, 6, 0, 1, 0, 2, 97, 43], 'bad-topic'); // filter "a+" [MQTT-4.7.1-3]
});

test('packet identifier 0 is bad-packet-id [MQTT-2.3.1-1]', () => {
  rejects([0x32, 5, 0, 1, 116, 0, 0], 'bad-packet-id'); // PUBLISH QoS 1
  rejects([0x34, 5, 0, 1, 116, 0, 0], 'bad-packet-id'); // PUBLISH QoS 2
  rejects([0x40, 2, 0, 0], 'bad-packet-id'); // PUBACK [MQTT-2.3.1-6]
  rejects([0x62, 2, 0, 0], 'bad-packet-id'); // PUBREL
  rejects([0x90, 3, 0, 0, 0], 'bad-packet-id'); // SUBACK [MQTT-2.3.1-7]
  rejects([0xb0, 2, 0, 0], 'bad-packet-id'); // UNSUBACK
  rejects([0x82, 6, 0, 0, 0, 1, 97, 0], 'bad-packet-id'); // SUBSCRIBE
});

test('lengths that disagree with the fields are bad-length', () => {
  rejects([0x40, 3, 0, 1, 0], 'bad-length'); // PUBACK with a trailing byte (§3.4.1)
  rejects([0x40, 0], 'bad-length'); // PUBACK without its identifier
  rejects([0xd0, 1, 0], 'bad-length'); // PINGRESP with a body (§3.13.1)
  rejects([0x30, 4, 0, 5, 97, 98], 'bad-length'); // topic runs past the packet
  rejects([0x32, 4, 0, 1, 116, 0], 'bad-length'); // QoS 1 PUBLISH cut inside its identifier
  rejects([0x82, 7, 0, 1, 0, 1, 97, 0, 0], 'bad-length'); // SUBSCRIBE with a trailing byte
  rejects([0x82, 2, 0, 1], 'bad-length'); // SUBSCRIBE without a filter [MQTT-3.8.3-3]
  rejects([0xa2, 6, 0, 1, 0, 1, 97, 0], 'bad-length'); // UNSUBSCRIBE with a trailing byte
  rejects([0xa2, 2, 0, 1], 'bad-length'); // UNSUBSCRIBE without a filter [MQTT-3.10.3-2]
  rejects([0x10, 13, ...MQTT, 4, 2, 0, 0, 0, 0, 9], 'bad-length'); // CONNECT with a trailing byte
  rejects([0x10, 12, ...MQTT, 4, 0x80, 0, 0, 0, 0], 'bad-length'); // user name flag, no user name [MQTT-3.1.2-19]
});

test('SUBSCRIBE options: reserved bits are bad-flags, QoS 3 is bad-qos [MQTT-3-8.3-4]', () => {
  rejects([0x82, 6, 0, 1, 0, 1, 97, 4], 'bad-flags');
  rejects([0x82, 6, 0, 1, 0, 1, 97, 3], 'bad-qos');
});

test('CONNECT that is not MQTT 3.1.1, or has contradictory flags, is rejected', () => {
  // MQTT 3.1: "MQIsdp", level 3 [MQTT-3.1.2-1]
  rejects([0x10, 14, 0, 6, 77, 81, 73, 115, 100, 112, 3, 2, 0, 0, 0, 0], 'bad-protocol');
  rejects([0x10, 12, ...MQTT, 5, 2, 0, 0, 0, 0], 'bad-protocol'); // level 5 [MQTT-3.1.2-2]
  rejects([0x10, 12, ...MQTT, 4, 3, 0, 0, 0, 0], 'bad-flags'); // reserved bit [MQTT-3.1.2-3]
  rejects([0x10, 12, ...MQTT, 4, 0x22, 0, 0, 0, 0], 'bad-flags'); // will retain, no will [MQTT-3.1.2-15]
  rejects([0x10, 12, ...MQTT, 4, 0x0a, 0, 0, 0, 0], 'bad-flags'); // will QoS 1, no will [MQTT-3.1.2-13]
  rejects([0x10, 12, ...MQTT, 4, 0x1e, 0, 0, 0, 0], 'bad-qos'); // will QoS 3 [MQTT-3.1.2-14]
  rejects([0x10, 12, ...MQTT, 4, 0x42, 0, 0, 0, 0], 'bad-flags'); // password without user name [MQTT-3.1.2-22]
});

test('a truncated packet followed by more data fails on the fields it swallows', () => {
  // A CONNACK cut after its flags byte, then a whole CONNACK: the decoder
  // takes 0x20 as the return code, which is reserved.
  rejects([0x20, 2, 0, /* cut */ 0x20, 2, 0, 0], 'bad-return-code');
  // A SUBACK missing its return code, then a PINGRESP: 0xd0 becomes a return code.
  rejects([0x90, 3, 0, 1, /* cut */ 0xd0, 0], 'bad-return-code');
  // A PUBLISH whose topic is cut, then a PINGRESP: 0xd0 0x00 is not UTF-8.
  rejects([0x30, 6, 0, 4, 97, 98, /* cut */ 0xd0, 0], 'bad-utf8');
  // Framing alone cannot see every cut: a short PUBACK takes the next PUBACK's
  // first byte as half its identifier; the bytes left over then fail.
  const decoder = new MqttDecoder({ maxPacketSize: 64 });
  const seen: Packet[] = [];
  const error = decoder.push(Uint8Array.of(0x40, 2, 0, /* cut */ 0x40, 2, 0, 5), (p) => seen.push(p));
  assert.deepEqual(seen, [{ type: 'puback', packetId: 0x40 }]);
  assert.equal(error?.kind, 'unknown-packet-type');
});

test('packets before an error in the same chunk are delivered, then the error', () => {
  const decoder = new MqttDecoder({ maxPacketSize: 64 });
  const seen: string[] = [];
  const error = decoder.push(Uint8Array.of(0xd0, 0, 0x40, 2, 0, 7, 0x20, 2, 0, 9, 0xd0, 0), (p) => seen.push(p.type));
  assert.deepEqual(seen, ['pingresp', 'puback']);
  assert.equal(error?.kind, 'bad-return-code');
});

test('after an error the decoder stays poisoned until reset', () => {
  const decoder = new MqttDecoder({ maxPacketSize: 64 });
  const first = decoder.push(Uint8Array.of(0x00), () => {});
  assert.equal(first?.kind, 'unknown-packet-type');
  let called = false;
  assert.equal(decoder.push(Uint8Array.of(0xd0, 0), () => { called = true; }), first);
  assert.equal(decoder.push(new Uint8Array(0), () => { called = true; }), first);
  assert.equal(called, false);
  decoder.reset();
  const seen: Packet[] = [];
  assert.equal(decoder.push(Uint8Array.of(0xd0, 0), (p) => seen.push(p)), undefined);
  assert.deepEqual(seen, [{ type: 'pingresp' }]);
});

test('reset from inside onPacket drops the rest of the chunk', () => {
  const decoder = new MqttDecoder({ maxPacketSize: 64 });
  const seen: string[] = [];
  const error = decoder.push(Uint8Array.of(0xd0, 0, 0xd0, 0, 0x00), (p) => {
    seen.push(p.type);
    decoder.reset();
  });
  assert.equal(error, undefined);
  assert.deepEqual(seen, ['pingresp']);
});

test('a throwing onPacket poisons the decoder and the exception propagates', () => {
  const decoder = new MqttDecoder({ maxPacketSize: 64 });
  const boom = new Error('boom');
  assert.throws(() => decoder.push(Uint8Array.of(0xd0, 0, 0xd0, 0), () => { throw boom; }), boom);
  assert.equal(decoder.push(Uint8Array.of(0xd0, 0), () => {})?.kind, 'handler-threw');
});

test('misuse of the decoder throws invalid-argument', () => {
  for (const maxPacketSize of [1, 0, -5, 1.5, NaN, 268_435_461]) {
    assert.throws(() => new MqttDecoder({ maxPacketSize }), { kind: 'invalid-argument' });
  }
  const decoder = new MqttDecoder({ maxPacketSize: 64 });
  assert.throws(() => decoder.push([0xd0, 0] as unknown as Uint8Array, () => {}), { kind: 'invalid-argument' });
  assert.throws(() => decoder.push(Uint8Array.of(0xd0, 0), () => { decoder.push(Uint8Array.of(0xd0, 0), () => {}); }),
    { kind: 'invalid-argument' });
});

test('encode and sizeOf throw typed errors on misuse', () => {
  const publish = (fields: Partial<Extract<Packet, { type: 'publish' }>>): Packet => ({
    type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 0, retain: false, dup: false, ...fields,
  });
  const cases: [Packet, MqttErrorKind][] = [
    [publish({ topic: 'x'.repeat(65_536) }), 'invalid-argument'], // [MQTT-4.7.3-3]
    [publish({ topic: '🙂'.repeat(16_384) }), 'invalid-argument'], // 65,536 bytes in 32,768 code units
    [publish({ topic: '' }), 'invalid-argument'], // [MQTT-4.7.3-1]
    [publish({ topic: 'a/#' }), 'invalid-argument'], // [MQTT-3.3.2-2]
    [publish({ topic: 'a\ud800' }), 'invalid-argument'], // lone surrogate [MQTT-1.5.3-1]
    [publish({ topic: 'a\udc00b' }), 'invalid-argument'],
    [publish({ topic: 'a\u0000' }), 'invalid-argument'], // [MQTT-1.5.3-2]
    [publish({ qos: 1 }), 'invalid-argument'], // no packetId
    [publish({ qos: 1, packetId: 0 }), 'invalid-argument'], // [MQTT-2.3.1-1]
    [publish({ qos: 1, packetId: 65_536 }), 'invalid-argument'],
    [publish({ qos: 0, packetId: 1 }), 'invalid-argument'], // [MQTT-2.3.1-5]
    [publish({ qos: 0, dup: true }), 'invalid-argument'], // [MQTT-3.3.1-2]
    [publish({ qos: 3 as 0 }), 'invalid-argument'],
    [{ type: 'puback', packetId: 0 }, 'invalid-argument'],
    [{ type: 'puback', packetId: 1.5 }, 'invalid-argument'],
    [{ type: 'connack', sessionPresent: false, returnCode: 6 as 0 }, 'invalid-argument'],
    [{ type: 'connack', sessionPresent: true, returnCode: 1 }, 'invalid-argument'], // [MQTT-3.2.2-4]
    [{ type: 'subscribe', packetId: 1, subscriptions: [] }, 'invalid-argument'], // [MQTT-3.8.3-3]
    [{ type: 'subscribe', packetId: 1, subscriptions: [{ topic: 'a/#/b', qos: 0 }] }, 'invalid-argument'],
    [{ type: 'suback', packetId: 1, granted: [3 as 0] }, 'invalid-argument'], // [MQTT-3.9.3-2]
    [{ type: 'unsubscribe', packetId: 1, topics: [] }, 'invalid-argument'], // [MQTT-3.10.3-2]
    [{ type: 'connect', clientId: '', cleanSession: false, keepAlive: 0 }, 'invalid-argument'], // [MQTT-3.1.3-7]
    [{ type: 'connect', clientId: 'c', cleanSession: true, keepAlive: 65_536 }, 'invalid-argument'],
    [{ type: 'connect', clientId: 'c', cleanSession: true, keepAlive: 0, password: new Uint8Array(1) }, 'invalid-argument'], // [MQTT-3.1.2-22]
    [{ type: 'connect', clientId: 'c', cleanSession: true, keepAlive: 0,
      will: { topic: 't', payload: new Uint8Array(65_536), qos: 0, retain: false } }, 'invalid-argument'],
    [{ type: 'reserved' } as unknown as Packet, 'invalid-argument'],
  ];
  for (const [packet, kind] of cases) {
    assert.throws(() => sizeOf(packet), { kind }, JSON.stringify(packet).slice(0, 80));
    assert.throws(() => encode(packet, new Uint8Array(70_000)), { kind });
  }
});

test('encode checks room and the 268,435,455-byte remaining length limit', () => {
  const out = new Uint8Array(8).fill(0xee);
  assert.throws(() => encode({ type: 'puback', packetId: 1 }, out, 5), { kind: 'buffer-too-small' });
  assert.deepEqual([...out], new Array(8).fill(0xee), 'nothing written');
  assert.equal(encode({ type: 'puback', packetId: 1 }, out, 4), 4);
  assert.throws(() => encode({ type: 'puback', packetId: 1 }, out, 9), { kind: 'invalid-argument' });
  assert.throws(() => encode({ type: 'puback', packetId: 1 }, out, -1), { kind: 'invalid-argument' });

  // A stand-in payload that reports a length without 256 MiB behind it.
  const hugePayload = (length: number): Uint8Array =>
    Object.defineProperty(Object.create(Uint8Array.prototype), 'length', { value: length }) as Uint8Array;
  const publish = (length: number): Packet =>
    ({ type: 'publish', topic: 't', payload: hugePayload(length), qos: 0, retain: false, dup: false });
  assert.equal(sizeOf(publish(268_435_455 - 3)), 1 + 4 + 268_435_455);
  assert.throws(() => sizeOf(publish(268_435_455 - 2)), { kind: 'packet-too-large' });
});

test('an MqttError is an Error named MqttError that carries its kind', () => {
  const error = new MqttError('bad-utf8', 'x');
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'MqttError');
});
