import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'mqtt-packet';
import { clientIdViolation, effectiveKeepalive, topicViolation } from '../../endpoint/limits';
import { frameSize, MqttFramer, PacketDecoder } from '../../endpoint/mqtt-frames';

test('keepalive: 0 and >1200 become 1200, <30 becomes 30, the rest is kept', () => {
  assert.deepEqual([0, 1, 29, 30, 31, 1200, 1201, 65535].map((k) => effectiveKeepalive(k)), [1200, 30, 30, 30, 31, 1200, 1200, 1200]);
});

test('client id: 128 bytes counted in UTF-8, and no $ prefix', () => {
  assert.equal(clientIdViolation('a'.repeat(128)), undefined);
  assert.match(clientIdViolation('a'.repeat(129)) ?? '', /129 bytes/);
  assert.match(clientIdViolation('é'.repeat(65)) ?? '', /130 bytes/); // 65 characters, 130 bytes
  assert.match(clientIdViolation('$thing') ?? '', /\$/);
  assert.equal(clientIdViolation('thing$'), undefined);
});

test('topics: at most 256 bytes and 7 slashes; Basic Ingest prefix slashes do not count', () => {
  assert.equal(topicViolation('a/b/c/d/e/f/g/h'), undefined);
  assert.equal(topicViolation('a/b/c/d/e/f/g/h/i')?.kind, 'topic-depth');
  assert.equal(topicViolation('x'.repeat(256)), undefined);
  assert.equal(topicViolation('x'.repeat(257))?.kind, 'topic-length');
  assert.equal(topicViolation('$aws/rules/my_rule/a/b/c/d/e/f/g/h'), undefined);
  assert.equal(topicViolation('$aws/rules/my_rule/a/b/c/d/e/f/g/h/i')?.kind, 'topic-depth');
});

test('frameSize reads the Remaining Length (MQTT 2.2.3) and waits for a whole header', () => {
  assert.equal(frameSize(Buffer.from([0xc0, 0x00])), 2); // PINGREQ
  assert.equal(frameSize(Buffer.from([0x30])), undefined);
  assert.equal(frameSize(Buffer.from([0x30, 0x80])), undefined);
  assert.equal(frameSize(Buffer.from([0x30, 0x80, 0x01])), 3 + 128);
  assert.equal(frameSize(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])), 5 + 268_435_455);
  assert.throws(() => frameSize(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /malformed/);
});

test('the framer returns whole packets, byte for byte, however the stream is cut', () => {
  const packets = [
    generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c', keepalive: 30 }),
    generate({ cmd: 'publish', topic: 'dt/a', payload: Buffer.alloc(300, 7), qos: 1, messageId: 5, dup: false, retain: false }),
    generate({ cmd: 'pingreq' }),
  ];
  const stream = Buffer.concat(packets);
  for (const cut of [1, 2, 3, 7, 64, stream.length]) {
    const framer = new MqttFramer();
    const frames: Buffer[] = [];
    for (let i = 0; i < stream.length; i += cut) frames.push(...framer.feed(stream.subarray(i, i + cut)));
    assert.deepEqual(frames, packets, `cut ${cut}`);
  }
  const decoder = new PacketDecoder();
  assert.deepEqual(packets.map((p) => decoder.decode(p).cmd), ['connect', 'publish', 'pingreq']);
});
