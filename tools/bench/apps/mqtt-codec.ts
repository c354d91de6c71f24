/**
 * Bench app for the MQTT codec: on boot, runs one operation `iterations` times
 * inside the engine and returns. The host (tools/bench/main.ts) reads the XS
 * meter around the boot delivery; the setup below is the same for every `op`,
 * so subtracting the 'empty' loop leaves the cost of the operation itself.
 *
 * Config: `{ op: 'empty' | 'encode' | 'decode', iterations, seed }`. The
 * payload bytes come from `seed`, so a run is the same on every engine.
 */
import type { AppHandle, Hal } from '../../../hal/types';
import { encode, sizeOf } from '../../../firmware/mqtt/codec';
import { MqttDecoder } from '../../../firmware/mqtt/decoder';
import type { Packet, PublishPacket } from '../../../firmware/mqtt/packets';

export const BENCH_OPS = ['empty', 'encode', 'decode'] as const;
export type BenchOp = (typeof BENCH_OPS)[number];

export const PAYLOAD_BYTES = 200;
export const TOPIC = 'dt/fieldlink/bench-device/telemetry';

export interface CodecBenchReport {
  op: BenchOp;
  iterations: number;
  /** Bytes written by the last encode, or packets decoded. */
  work: number;
  /** Folds every result in, so no loop is dead code. */
  sink: number;
}

export function mqttCodecBench(_hal: Hal, raw: unknown): AppHandle {
  const config = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const op = config.op as BenchOp;
  const iterations = config.iterations as number;
  const seed = config.seed as number;
  if (!BENCH_OPS.includes(op)) throw new RangeError(`op must be one of ${BENCH_OPS.join(', ')}`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError('seed must be a uint32');

  // Setup, the same for every op: one QoS 1 PUBLISH, its wire bytes, a decoder.
  const payload = new Uint8Array(PAYLOAD_BYTES);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < payload.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    payload[i] = x & 0xff;
  }
  const packet: PublishPacket = { type: 'publish', topic: TOPIC, payload, qos: 1, retain: false, dup: false, packetId: 1 };
  const out = new Uint8Array(sizeOf(packet));
  const wire = out.slice(0, encode(packet, out));
  const decoder = new MqttDecoder({ maxPacketSize: 512 });
  let work = 0;
  let sink = 0;
  const onPacket = (p: Packet): void => {
    work++;
    sink ^= (p as PublishPacket).payload.length;
  };

  switch (op) {
    case 'empty':
      for (let i = 0; i < iterations; i++) sink ^= i;
      break;
    case 'encode':
      for (let i = 0; i < iterations; i++) sink ^= encode(packet, out);
      work = out.length;
      break;
    case 'decode':
      for (let i = 0; i < iterations; i++) sink ^= decoder.push(wire, onPacket) === undefined ? 1 : 2;
      break;
  }
  const report: CodecBenchReport = { op, iterations, work, sink };
  return { inspect: () => report };
}
