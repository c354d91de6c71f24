// Differential tests against npm mqtt-packet (protocolVersion 4), the reference:
// its bytes decode here to the same fields, ours parse there to the same fields,
// and both encoders agree byte for byte on every valid packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as mqtt from 'mqtt-packet';
import type { Packet, QoS, SubackReturnCode } from '../../../firmware/mqtt/packets';
import { encode, sizeOf } from './broker-codec';
import { MqttDecoder } from './broker-codec';

const MAX_PACKET = 1 << 22;

// ---- conversions to and from mqtt-packet's shapes

function toReference(p: Packet): mqtt.Packet {
  switch (p.type) {
    case 'connect': {
      const r: mqtt.IConnectPacket = {
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4,
        clientId: p.clientId, clean: p.cleanSession, keepalive: p.keepAlive,
      };
      if (p.will !== undefined) {
        r.will = { topic: p.will.topic, payload: Buffer.from(p.will.payload), qos: p.will.qos, retain: p.will.retain };
      }
      if (p.username !== undefined) r.username = p.username;
      if (p.password !== undefined) r.password = Buffer.from(p.password);
      return r;
    }
    case 'connack':
      return { cmd: 'connack', sessionPresent: p.sessionPresent, returnCode: p.returnCode };
    case 'publish': {
      const r: mqtt.IPublishPacket = {
        cmd: 'publish', topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, retain: p.retain, dup: p.dup,
      };
      if (p.packetId !== undefined) r.messageId = p.packetId;
      return r;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return { cmd: p.type, messageId: p.packetId };
    case 'subscribe':
      return { cmd: 'subscribe', messageId: p.packetId, subscriptions: p.subscriptions.map(({ topic, qos }) => ({ topic, qos })) };
    case 'suback':
      return { cmd: 'suback', messageId: p.packetId, granted: [...p.granted] };
    case 'unsubscribe':
      return { cmd: 'unsubscribe', messageId: p.packetId, unsubscriptions: [...p.topics] };
    case 'unsuback':
      return { cmd: 'unsuback', messageId: p.packetId, granted: [] };
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return { cmd: p.type };
  }
}

const bytes = (b: Buffer | string): Uint8Array => new Uint8Array(typeof b === 'string' ? Buffer.from(b) : b);

function fromReference(r: mqtt.Packet): Packet {
  switch (r.cmd) {
    case 'connect': {
      const p: Packet = { type: 'connect', clientId: r.clientId, cleanSession: r.clean as boolean, keepAlive: r.keepalive as number };
      assert.equal(r.protocolId, 'MQTT');
      assert.equal(r.protocolVersion, 4);
      if (r.will) {
        p.will = { topic: r.will.topic, payload: bytes(r.will.payload), qos: r.will.qos as QoS, retain: r.will.retain as boolean };
      }
      if (r.username !== undefined) p.username = r.username;
      if (r.password !== undefined) p.password = bytes(r.password);
      return p;
    }
    case 'connack':
      return { type: 'connack', sessionPresent: r.sessionPresent, returnCode: r.returnCode as 0 };
    case 'publish': {
      const base = { type: 'publish', topic: r.topic, payload: bytes(r.payload), qos: r.qos, retain: r.retain, dup: r.dup } as const;
      return r.qos === 0 ? base : { ...base, packetId: r.messageId };
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return { type: r.cmd, packetId: r.messageId as number };
    case 'subscribe':
      return { type: 'subscribe', packetId: r.messageId as number, subscriptions: r.subscriptions.map(({ topic, qos }) => ({ topic, qos })) };
    case 'suback':
      return { type: 'suback', packetId: r.messageId as number, granted: r.granted as SubackReturnCode[] };
    case 'unsubscribe':
      return { type: 'unsubscribe', packetId: r.messageId as number, topics: r.unsubscriptions };
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return { type: r.cmd };
    default:
      throw new Error(`unexpected ${r.cmd}`);
  }
}

// ---- both sides

function encodeOne(packet: Packet): Uint8Array {
  const out = new Uint8Array(sizeOf(packet));
  assert.equal(encode(packet, out), out.length);
  return out;
}

function referenceGenerate(packet: Packet): Uint8Array {
  return new Uint8Array(mqtt.generate(toReference(packet), { protocolVersion: 4 }));
}

function referenceParse(wire: Uint8Array): Packet[] {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  parser.on('packet', (r: mqtt.Packet) => packets.push(fromReference(r)));
  parser.on('error', (e: Error) => assert.fail(`mqtt-packet rejected our bytes: ${e.message}`));
  assert.equal(parser.parse(Buffer.from(wire.buffer, wire.byteOffset, wire.length)), 0);
  return packets;
}

/** Decodes `wire` pushed in pieces that end at each of `cuts`. */
function decodeSplit(wire: Uint8Array, cuts: number[]): Packet[] {
  const decoder = new MqttDecoder({ maxPacketSize: MAX_PACKET });
  const packets: Packet[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < wire.length).sort((a, b) => a - b), wire.length]) {
    const error = decoder.push(wire.subarray(from, cut), (p) => packets.push(p));
    assert.equal(error, undefined, error?.message);
    assert.ok(decoder.buffered <= decoder.capacity);
    from = cut;
  }
  return packets;
}

function decodeBytewise(wire: Uint8Array): Packet[] {
  const decoder = new MqttDecoder({ maxPacketSize: MAX_PACKET });
  const packets: Packet[] = [];
  for (let i = 0; i < wire.length; i++) {
    const error = decoder.push(wire.subarray(i, i + 1), (p) => packets.push(p));
    assert.equal(error, undefined, error?.message);
  }
  return packets;
}

/** The three differential checks for one packet. */
function agree(packet: Packet): Uint8Array {
  const ours = encodeOne(packet);
  const theirs = referenceGenerate(packet);
  assert.deepEqual(ours, theirs, 'encoders disagree');
  assert.deepEqual(decodeSplit(theirs, []), [packet], 'their bytes decode differently here');
  assert.deepEqual(referenceParse(ours), [packet], 'our bytes parse differently there');
  return ours;
}

// ---- arbitraries

// Plain objects only: the default null-prototype records never deep-equal decoded packets.
const record = ((model: never) => fc.record(model, { noNullPrototype: true })) as unknown as typeof fc.record;

const notSpecial = (c: string): boolean => c !== '\u0000' && c !== '+' && c !== '#' && c !== '/';
const levelChar = fc.oneof(
  fc.constantFrom('a', 'Z', '0', '$', ' ', '-', '_'),
  fc.constantFrom('é', 'ß', 'Ω'), // 2 bytes
  fc.constantFrom('€', '中', '\ufeff', '\ufffd'), // 3 bytes
  fc.constantFrom('🙂', '𝄞', '\u{10ffff}'), // 4 bytes, surrogate pairs in JavaScript
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter(notSpecial),
);
const level = fc.array(levelChar, { maxLength: 6 }).map((cs) => cs.join(''));
const topicName = fc.array(level, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('/')).filter((t) => t.length > 0);
const topicFilter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([ls, hash]) => (hash ? [...ls, '#'] : ls).join('/'))
  .filter((t) => t.length > 0);
const text = fc.string({ unit: 'binary', maxLength: 24 }).filter((s) => !s.includes('\u0000'));
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 0xffff });
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constantFrom(0, 1, 127, 128, 129, 300).map((n) => new Uint8Array(n).fill(0xa5)),
);

const connect: fc.Arbitrary<Packet> = fc
  .record({
    clientId: text,
    cleanSession: fc.boolean(),
    keepAlive: fc.integer({ min: 0, max: 0xffff }),
    username: fc.option(text, { nil: undefined }),
    password: fc.option(fc.uint8Array({ maxLength: 32 }), { nil: undefined }),
    will: fc.option(record({ topic: topicName, payload, qos, retain: fc.boolean() }), { nil: undefined }),
  })
  .map(({ clientId, cleanSession, keepAlive, username, password, will }) => {
    const p: Packet = { type: 'connect', clientId, cleanSession: cleanSession || clientId === '', keepAlive };
    if (will !== undefined) p.will = will;
    if (username !== undefined || password !== undefined) p.username = username ?? '';
    if (password !== undefined) p.password = password;
    return p;
  });

const publish: fc.Arbitrary<Packet> = fc
  .record({ topic: topicName, payload, qos, retain: fc.boolean(), dup: fc.boolean(), packetId })
  .map(({ topic, payload, qos, retain, dup, packetId }) =>
    qos === 0
      ? { type: 'publish', topic, payload, qos, retain, dup: false }
      : { type: 'publish', topic, payload, qos, retain, dup, packetId });

const arbitraries: Record<Packet['type'], fc.Arbitrary<Packet>> = {
  connect,
  connack: fc.oneof(
    record({ type: fc.constant('connack'), sessionPresent: fc.boolean(), returnCode: fc.constant(0 as const) }),
    record({ type: fc.constant('connack'), sessionPresent: fc.constant(false), returnCode: fc.constantFrom(1, 2, 3, 4, 5 as const) }),
  ),
  publish,
  puback: record({ type: fc.constant('puback'), packetId }),
  pubrec: record({ type: fc.constant('pubrec'), packetId }),
  pubrel: record({ type: fc.constant('pubrel'), packetId }),
  pubcomp: record({ type: fc.constant('pubcomp'), packetId }),
  subscribe: record({
    type: fc.constant('subscribe'), packetId,
    subscriptions: fc.array(record({ topic: topicFilter, qos }), { minLength: 1, maxLength: 8 }),
  }),
  suback: record({
    type: fc.constant('suback'), packetId,
    granted: fc.array(fc.constantFrom<SubackReturnCode>(0, 1, 2, 0x80), { minLength: 1, maxLength: 8 }),
  }),
  unsubscribe: record({
    type: fc.constant('unsubscribe'), packetId, topics: fc.array(topicFilter, { minLength: 1, maxLength: 8 }),
  }),
  unsuback: record({ type: fc.constant('unsuback'), packetId }),
  pingreq: fc.constant({ type: 'pingreq' }),
  pingresp: fc.constant({ type: 'pingresp' }),
  disconnect: fc.constant({ type: 'disconnect' }),
};
const anyPacket = fc.oneof(...Object.values(arbitraries));

// ---- properties

for (const [type, arbitrary] of Object.entries(arbitraries)) {
  test(`${type}: both encoders agree and each side decodes the other's bytes`, () => {
    fc.assert(fc.property(arbitrary, (packet) => { agree(packet); }), { numRuns: type.startsWith('ping') || type === 'disconnect' ? 1 : 150 });
  });
}

test('streams of packets decode the same however they are split', () => {
  fc.assert(
    fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (packets, cuts) => {
      const parts = packets.map(referenceGenerate);
      const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (wire.set(p, at), at + p.length), 0);
      assert.deepEqual(decodeSplit(wire, cuts.map((c) => c % (wire.length + 1))), packets);
      assert.deepEqual(referenceParse(wire), packets);
    }),
    { numRuns: 250 },
  );
});

test('streams of packets decode the same one byte at a time', () => {
  fc.assert(
    fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 6 }), (packets) => {
      const parts = packets.map(encodeOne);
      const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (wire.set(p, at), at + p.length), 0);
      assert.deepEqual(decodeBytewise(wire), packets);
    }),
    { numRuns: 150 },
  );
});

// ---- remaining-length boundaries and maximum topics

const BOUNDARIES = [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152];

/** Cut points from a small seeded generator, so a failure names a reproducible case. */
function cutsFor(length: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const cuts: number[] = [];
  for (let i = 0; i < 16; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    cuts.push(x % (length + 1));
  }
  return cuts;
}

function checkLarge(packet: Packet, label: string): void {
  const wire = agree(packet);
  assert.deepEqual(decodeSplit(wire, cutsFor(wire.length, wire.length)), [packet], `${label}: split`);
  if (wire.length <= 20_000) assert.deepEqual(decodeBytewise(wire), [packet], `${label}: one byte at a time`);
}

for (const q of [0, 1, 2] as QoS[]) {
  const topic = 'dt/é/🙂';
  const fixed = 2 + Buffer.byteLength(topic) + (q > 0 ? 2 : 0);
  const make = (size: number): Packet =>
    q === 0
      ? { type: 'publish', topic, payload: new Uint8Array(size).fill(0x5a), qos: 0, retain: true, dup: false }
      : { type: 'publish', topic, payload: new Uint8Array(size).fill(0x5a), qos: q, retain: false, dup: q === 2, packetId: 0x1234 };

  test(`QoS ${q} PUBLISH payloads of 0, 127, 128, 16383, 16384, 2097151 and 2097152 bytes`, () => {
    for (const size of BOUNDARIES) checkLarge(make(size), `payload ${size}`);
  });

  test(`QoS ${q} PUBLISH whose remaining length sits on each varint boundary`, () => {
    for (const length of BOUNDARIES) {
      if (length < fixed) continue;
      const packet = make(length - fixed);
      const wire = encodeOne(packet);
      const lengthBytes = length < 128 ? 1 : length < 16_384 ? 2 : length < 2_097_152 ? 3 : 4;
      assert.equal(wire.length, 1 + lengthBytes + length, `remaining length ${length}`);
      checkLarge(packet, `remaining length ${length}`);
    }
  });
}

test('remaining length 0 on every packet type that has no body', () => {
  for (const type of ['pingreq', 'pingresp', 'disconnect'] as const) {
    assert.deepEqual([...agree({ type })], [[0xc0, 0xd0, 0xe0][['pingreq', 'pingresp', 'disconnect'].indexOf(type)], 0]);
  }
});

test('topics of exactly 65535 bytes, ASCII and multi-byte', () => {
  const topics = [
    'a'.repeat(65_535),
    '🙂'.repeat(16_383) + 'abc', // 4 x 16383 + 3
    'é'.repeat(32_767) + 'a', // 2 x 32767 + 1
    '€'.repeat(21_845), // 3 x 21845
  ];
  for (const topic of topics) {
    assert.equal(Buffer.byteLength(topic), 65_535);
    checkLarge({ type: 'publish', topic, payload: Uint8Array.of(1), qos: 1, retain: false, dup: false, packetId: 9 }, 'max topic');
    agree({ type: 'subscribe', packetId: 9, subscriptions: [{ topic, qos: 2 }] });
    agree({ type: 'unsubscribe', packetId: 9, topics: [topic] });
  }
});

// ---- where the reference is lenient (mqtt-packet 9.0.2); pinned so a change there shows up

function referenceAccepts(hex: string): mqtt.Packet[] {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const packets: mqtt.Packet[] = [];
  parser.on('packet', (r: mqtt.Packet) => packets.push(r));
  parser.on('error', (e: Error) => assert.fail(`mqtt-packet now rejects ${hex}: ${e.message}`));
  parser.parse(Buffer.from(hex, 'hex'));
  return packets;
}

test('bytes mqtt-packet accepts but MQTT 3.1.1 forbids are rejected here', () => {
  const cases: [hex: string, kind: string][] = [
    ['20020006', 'bad-return-code'], // CONNACK return code 6 is reserved (Table 3.1)
    ['2003000000', 'bad-length'], // CONNACK with a third byte, ignored there
    ['4003000100', 'bad-length'], // PUBACK with a trailing byte, ignored there
    ['4000d000', 'bad-length'], // PUBACK without an identifier: there it takes 0xd000 from the next packet
    ['30040002c0af', 'bad-utf8'], // overlong UTF-8: there it becomes U+FFFD [MQTT-1.5.3-1]
    ['300400026100', 'bad-utf8'], // U+0000 in a topic [MQTT-1.5.3-2]
    ['3003000123', 'bad-topic'], // "#" as a PUBLISH topic [MQTT-3.3.2-2]
    ['32050001610000', 'bad-packet-id'], // QoS 1 PUBLISH with identifier 0 [MQTT-2.3.1-1]
    ['3803000161', 'bad-flags'], // DUP at QoS 0 [MQTT-3.3.1-2]
    ['d00100', 'bad-length'], // PINGRESP with a body
  ];
  for (const [hex, kind] of cases) {
    assert.ok(referenceAccepts(hex).length > 0, hex);
    const error = new MqttDecoder({ maxPacketSize: 64 }).push(new Uint8Array(Buffer.from(hex, 'hex')), () => {});
    assert.equal(error?.kind, kind, hex);
  }
});

test('out-of-range fields: mqtt-packet emits broken bytes, this encoder throws', () => {
  const generate = (p: mqtt.Packet): string => mqtt.generate(p, { protocolVersion: 4 }).toString('hex');
  // A 16-bit field that overflows is dropped from the output, leaving a packet
  // shorter than its own remaining length.
  assert.equal(generate({ cmd: 'puback', messageId: 70_000 }), '4002');
  assert.equal(generate({ cmd: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 1, dup: false, retain: false, messageId: 65_536 }), '3205000161');
  assert.equal(generate({ cmd: 'publish', topic: 'a'.repeat(70_000), payload: Buffer.alloc(0), qos: 0, dup: false, retain: false }), '30f2a204'); // claims 70,002 bytes, carries none
  assert.throws(() => sizeOf({ type: 'puback', packetId: 70_000 }), { kind: 'invalid-argument' });
  assert.throws(() => sizeOf({ type: 'publish', topic: 'a'.repeat(70_000), payload: new Uint8Array(0), qos: 0, retain: false, dup: false }),
    { kind: 'invalid-argument' });
  // A lone surrogate is silently replaced by U+FFFD; here it is refused [MQTT-1.5.3-1].
  assert.equal(generate({ cmd: 'publish', topic: 'a\ud800', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false }), '3006000461efbfbd');
  // Its own output it cannot parse: SUBSCRIBE with DUP gets flags 1010 [MQTT-3.8.1-1].
  assert.equal(generate({ cmd: 'subscribe', messageId: 1, dup: true, subscriptions: [{ topic: 'a', qos: 0 }] } as mqtt.Packet).slice(0, 2), '8a');
});
