// A million seeded random and mutated frames through the streaming decoder:
// nothing escapes as an exception, every push returns, memory stays within
// maxPacketSize, errors are typed, and whatever is decoded is a valid packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Packet } from '../../../firmware/mqtt/packets';
import { MqttError, type DecodeErrorKind } from '../../../firmware/mqtt/errors';
import { encode, sizeOf } from './broker-codec';
import { MqttDecoder } from './broker-codec';
import { FrameGenerator, pushInPieces } from './fuzz-frames';

const FRAMES = 1_000_000;
const SEED = 0x6d717474; // "mqtt"
const MAX_PACKET_SIZES = [2, 5, 16, 64, 300, 4096];

const DECODE_KINDS = new Set<string>(['malformed-length', 'packet-too-large', 'unknown-packet-type', 'bad-flags', 'bad-qos', 'bad-return-code',
  'bad-utf8', 'bad-topic', 'bad-packet-id', 'bad-length', 'bad-protocol', 'client-packet', 'handler-threw'] satisfies DecodeErrorKind[]);

test(`the decoder survives ${FRAMES.toLocaleString('en')} random and mutated frames`, (t) => {
  const frames = new FrameGenerator(SEED);
  const rng = frames.rng;
  const decoders = MAX_PACKET_SIZES.map((maxPacketSize) => new MqttDecoder({ maxPacketSize }));
  const oracle = new MqttDecoder({ maxPacketSize: 4096 });
  const reencoded = new Uint8Array(4096);
  const errors = new Map<string, number>();
  let decoder = decoders[decoders.length - 1];
  let poisonedBy: MqttError | undefined;
  let delivered = 0;
  let pushes = 0;
  let bytes = 0;

  const onPacket = (packet: Packet): void => {
    delivered++;
    // A server answers this CONNECT with return code 2 [MQTT-3.1.3-8]; only a client may not send it.
    if (packet.type === 'connect' && packet.clientId === '' && !packet.cleanSession) return;
    // Everything else that comes out is valid: it re-encodes within the size limit and round trips.
    const size = encode(packet, reencoded);
    assert.ok(size <= decoder.maxPacketSize);
    if ((delivered & 15) === 0) {
      const again: Packet[] = [];
      assert.equal(oracle.push(reencoded.subarray(0, size), (p) => again.push(p)), undefined);
      assert.deepEqual(again, [packet]);
    }
  };

  const push = (chunk: Uint8Array): void => {
    const error = decoder.push(chunk, onPacket);
    pushes++;
    bytes += chunk.length;
    assert.ok(decoder.buffered <= decoder.capacity && decoder.capacity === decoder.maxPacketSize - 2);
    if (poisonedBy !== undefined) {
      assert.equal(error, poisonedBy, 'a poisoned decoder returns the same error');
    } else if (error !== undefined) {
      assert.ok(error instanceof MqttError);
      assert.ok(DECODE_KINDS.has(error.kind), `not a decode error kind: ${error.kind}`);
      errors.set(error.kind, (errors.get(error.kind) ?? 0) + 1);
      poisonedBy = error;
    }
  };

  const started = performance.now();
  for (let f = 0; f < FRAMES; f++) {
    const frame = frames.next();

    if (frame.packet !== undefined && rng.chance(25)) {
      // A valid frame on a fresh decoder decodes to exactly its packet.
      const got: Packet[] = [];
      const cut = rng.below(frame.bytes.length + 1);
      assert.equal(oracle.push(frame.bytes.subarray(0, cut), (p) => got.push(p)), undefined);
      assert.equal(oracle.push(frame.bytes.subarray(cut), (p) => got.push(p)), undefined);
      assert.deepEqual(got, [frame.packet]);
      continue;
    }

    // Streams run across frames; now and then start over on another decoder.
    if (poisonedBy !== undefined ? rng.chance(90) : rng.chance(3)) {
      // Mostly the roomy decoder, so that bodies get parsed; the small ones exercise packet-too-large.
      decoder = rng.chance(50) ? decoders[decoders.length - 1] : rng.pick(decoders);
      decoder.reset();
      poisonedBy = undefined;
    }

    pushInPieces(frame.bytes, rng, push);
  }
  const ms = performance.now() - started;

  const summary = [...errors].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ');
  t.diagnostic(`${FRAMES} frames (${bytes} bytes, ${pushes} pushes) in ${(ms / 1000).toFixed(1)} s; ${delivered} packets decoded`);
  t.diagnostic(`errors: ${summary}`);
  for (const kind of ['malformed-length', 'packet-too-large', 'unknown-packet-type', 'bad-flags', 'bad-qos', 'bad-return-code',
    'bad-utf8', 'bad-topic', 'bad-packet-id', 'bad-length', 'bad-protocol']) {
    assert.ok(errors.has(kind), `the fuzzer never reached ${kind}`);
  }
});

test('the frame generator is deterministic for a seed', () => {
  const a = new FrameGenerator(42);
  const b = new FrameGenerator(42);
  for (let i = 0; i < 1000; i++) assert.deepEqual(a.next(), b.next());
  assert.notDeepEqual(new FrameGenerator(43).next(), new FrameGenerator(42).next());
});

test('every generated packet is valid', () => {
  const frames = new FrameGenerator(7);
  for (let i = 0; i < 20_000; i++) assert.doesNotThrow(() => sizeOf(frames.packet()));
});
