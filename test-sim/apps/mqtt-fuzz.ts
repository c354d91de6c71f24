/**
 * Device-side MQTT decoder fuzz: the seeded frames of
 * test-sim/test/mqtt/fuzz-frames.ts pushed through one `MqttDecoder` inside
 * whatever engine boots the app (XS, or Node for comparison). Frames run in
 * slices on timers so that no delivery runs long, as a device watchdog wants.
 *
 * Config: `{ seed, frames, maxPacketSize, framesPerSlice }` (all optional).
 * `inspect()` returns only counts and a digest, so the same seed gives the same
 * report on every engine that runs the decoder correctly.
 */
import type { AppHandle, Hal } from '../../hal/types';
import { encode } from '../test/mqtt/broker-codec';
import { MqttDecoder } from '../test/mqtt/broker-codec';
import { MqttError } from '../../firmware/mqtt/errors';
import type { Packet } from '../../firmware/mqtt/packets';
import { FrameGenerator, pushInPieces } from '../test/mqtt/fuzz-frames';

export interface FuzzReport {
  done: boolean;
  frames: number;
  pushes: number;
  bytes: number;
  /** Packets `onPacket` received on the fuzzed stream. */
  packets: number;
  /** Kind of the error that poisoned the decoder, counted once per poisoning. */
  errors: Record<string, number>;
  /** Largest `decoder.buffered` seen after a push; never above `capacity`. */
  maxBuffered: number;
  capacity: number;
  /** Exceptions that escaped `push` (the contract says none). */
  exceptions: number;
  firstException: string | null;
  /** Decoded packets that do not re-encode within `maxPacketSize`. */
  invalidPackets: number;
  /** Valid frames decoded on a fresh decoder and re-encoded to the same bytes. */
  roundTrips: { checked: number; failed: number };
  /** FNV-1a over the re-encoding of every packet decoded from the stream. */
  digest: number;
  slices: number;
}

/** The largest packet the generator makes is a CONNECT of about 2.5 kB. */
const ORACLE_SIZE = 8192;

export function mqttFuzz(hal: Hal, raw: unknown): AppHandle {
  const config = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const seed = integer(config.seed, 1, 0, 0xffffffff);
  const total = integer(config.frames, 20_000, 0, 100_000_000);
  const maxPacketSize = integer(config.maxPacketSize, 4096, 2, 1 << 20);
  const framesPerSlice = integer(config.framesPerSlice, 1000, 1, 1_000_000);

  const frames = new FrameGenerator(seed);
  const rng = frames.rng;
  const decoder = new MqttDecoder({ maxPacketSize });
  const oracle = new MqttDecoder({ maxPacketSize: ORACLE_SIZE });
  const scratch = new Uint8Array(ORACLE_SIZE);
  const report: FuzzReport = {
    done: false, frames: 0, pushes: 0, bytes: 0, packets: 0, errors: {}, maxBuffered: 0, capacity: decoder.capacity,
    exceptions: 0, firstException: null, invalidPackets: 0, roundTrips: { checked: 0, failed: 0 }, digest: 0x811c9dc5, slices: 0,
  };
  let poisoned = false;

  const onPacket = (packet: Packet): void => {
    report.packets++;
    // Only a client may not send this CONNECT; a server answers it with return code 2 [MQTT-3.1.3-8].
    if (packet.type === 'connect' && packet.clientId === '' && !packet.cleanSession) {
      report.digest = fnv(report.digest, Uint8Array.of(0x10), 0, 1);
      return;
    }
    try {
      const size = encode(packet, scratch);
      if (size > maxPacketSize) report.invalidPackets++;
      report.digest = fnv(report.digest, scratch, 0, size);
    } catch {
      report.invalidPackets++;
    }
  };

  function push(chunk: Uint8Array): void {
    report.pushes++;
    report.bytes += chunk.length;
    let error: MqttError | undefined;
    try {
      error = decoder.push(chunk, onPacket);
    } catch (e) {
      report.exceptions++;
      report.firstException ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    if (decoder.buffered > report.maxBuffered) report.maxBuffered = decoder.buffered;
    if (error !== undefined && !poisoned) {
      poisoned = true;
      report.errors[error.kind] = (report.errors[error.kind] ?? 0) + 1;
    }
  }

  /** A valid frame cut in two on a fresh decoder gives one packet that encodes to the same bytes. */
  function roundTrip(bytes: Uint8Array): void {
    report.roundTrips.checked++;
    oracle.reset();
    let got = 0;
    let same = false;
    const check = (packet: Packet): void => {
      got++;
      try {
        same = encode(packet, scratch) === bytes.length && equal(scratch, bytes);
      } catch {
        same = false;
      }
    };
    const cut = rng.below(bytes.length + 1);
    const failed = oracle.push(bytes.subarray(0, cut), check) !== undefined || oracle.push(bytes.subarray(cut), check) !== undefined;
    if (failed || got !== 1 || !same) report.roundTrips.failed++;
  }

  function runFrame(): void {
    const frame = frames.next();
    if (frame.packet !== undefined && rng.chance(25)) {
      roundTrip(frame.bytes);
      return;
    }
    // The stream runs across frames; after an error (and now and then anyway) it starts over.
    if (poisoned ? rng.chance(90) : rng.chance(3)) {
      decoder.reset();
      poisoned = false;
    }
    pushInPieces(frame.bytes, rng, push);
  }

  function slice(): void {
    report.slices++;
    const end = Math.min(total, report.frames + framesPerSlice);
    while (report.frames < end) {
      runFrame();
      report.frames++;
    }
    if (report.frames < total) {
      hal.timers.set(slice, 0);
      return;
    }
    report.done = true;
    hal.log.event('fuzz.done', { frames: report.frames, packets: report.packets, exceptions: report.exceptions });
  }

  hal.timers.set(slice, 0);
  return { inspect: () => report };
}

function integer(value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`config value ${String(value)} is not an integer in ${min}..${max}`);
  }
  return value;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** 32-bit FNV-1a, continued from `hash`. */
function fnv(hash: number, bytes: Uint8Array, start: number, end: number): number {
  let h = hash;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h;
}
