/**
 * The device's entry point: every platform's entry calls `main` once per boot
 * (power-on, wake from deep sleep, reset) with its HAL and the raw configuration.
 *
 * Samples go to the durable queue on flash the moment they are taken; a batch
 * leaves the queue only after its PUBACK. The power policy picks one of:
 * - always connected: the link stays up (keepalive up to 1200 s, Wi-Fi power
 *   save between packets), samples on a timer, uploads when a batch is due;
 * - duty-cycled: every wake takes a sample; when a batch is due it connects,
 *   flushes, disconnects at once after the last PUBACK, then deep-sleeps until
 *   the next sample. Backoff waits are slept through too, with the supervisor's
 *   counters carried in RTC memory.
 */
import type { AppHandle, Hal } from '../../hal/types';
import { MqttClient } from '../mqtt/client';
import { MqttError } from '../mqtt/errors';
import { LinkSupervisor, type SupervisorState } from '../link/supervisor';
import { ENERGY_PROFILES, choosePowerMode } from '../link/energy';
import { TelemetryQueue } from '../telemetry/queue';
import { Sampler } from '../telemetry/sampler';
import { batchDue, buildBatch, type BatchCursor, type UploadBatch } from '../telemetry/batch';
import { elapsed } from '../util/time';
import { fromUtf8, toUtf8 } from '../util/text';
import { ConfigError, resolveConfig, type DeviceConfig } from './config';
import type { ConfigErrorView, FirmwareView } from './view';

export const FIRMWARE_VERSION = '0.2.0';

/** The longest a duty-cycled wake stays up before it gives up and sleeps (a stuck handshake, a silent broker). */
const MAX_AWAKE_MS = 90_000;
/** Batches in flight at once. */
const MAX_BATCHES_IN_FLIGHT = 4;

/**
 * What survives deep sleep in RTC memory: u16 length, that many bytes of JSON
 * (a couple of hundred), then the queue's snapshot (under 1 KB) so a wake does
 * not rescan the flash.
 */
interface RetainedState {
  v: 1;
  link: SupervisorState | null;
  /** Wall time of the next sample, when the clock is synced. */
  nextSampleAt: number | null;
  /** Wall time before which no upload may start (a backoff slept through). */
  uploadNotBefore: number | null;
}

function loadRetained(hal: Hal): { state: RetainedState; queue: Uint8Array } | undefined {
  const bytes = hal.retained.load();
  if (!bytes || bytes.length < 2) return undefined;
  const length = bytes[0] | (bytes[1] << 8);
  try {
    const state = JSON.parse(fromUtf8(bytes.subarray(2, 2 + length))) as RetainedState;
    return state && state.v === 1 ? { state, queue: bytes.subarray(2 + length) } : undefined;
  } catch {
    return undefined;
  }
}

function storeRetained(hal: Hal, state: RetainedState, queue: Uint8Array): void {
  const json = toUtf8(JSON.stringify(state));
  const bytes = new Uint8Array(2 + json.length + queue.length);
  bytes[0] = json.length & 0xff;
  bytes[1] = json.length >> 8;
  bytes.set(json, 2);
  bytes.set(queue, 2 + json.length);
  hal.retained.store(bytes);
}

export function main(hal: Hal, raw: unknown): AppHandle {
  let config: DeviceConfig;
  try {
    config = resolveConfig(raw);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    hal.log.event('app.config-error', { message: error.message });
    return { inspect: (): ConfigErrorView => ({ configError: error.message }) };
  }
  const bootTick = hal.clock.now();
  const saved = loadRetained(hal);
  const retained = saved?.state;
  const queue = TelemetryQueue.open(hal.flash, saved?.queue.length ? { resume: saved.queue } : {});
  hal.log.event('app.boot', {
    reason: hal.power.bootReason, thing: config.thing, version: FIRMWARE_VERSION, retained: retained !== undefined, resumed: queue.resumed, nextSeq: queue.nextId, droppedTotal: queue.stats.droppedTotal,
  });

  const profile = ENERGY_PROFILES[config.chip];
  const samplesPerUpload = Math.max(1, Math.round(config.uploadIntervalMs / config.sampleIntervalMs));
  const choice = choosePowerMode(profile, {
    uploadIntervalMs: config.uploadIntervalMs,
    sampleIntervalMs: config.sampleIntervalMs,
    payloadBytes: 80 + 30 * samplesPerUpload,
    keepAliveS: config.keepAliveS || 1200,
  });
  const mode = config.powerMode === 'auto' ? choice.mode : config.powerMode;
  if (hal.power.bootReason !== 'deep-sleep') {
    hal.log.event('power.policy', {
      mode,
      configured: config.powerMode,
      alwaysMa: Math.round(choice.alwaysMa * 1000) / 1000,
      dutyMa: Math.round(choice.dutyMa * 1000) / 1000,
      breakEvenMs: Number.isFinite(choice.breakEvenMs) ? choice.breakEvenMs : null,
      uploadIntervalMs: config.uploadIntervalMs,
      why: mode === choice.mode
        ? `${mode === 'duty' ? 'duty-cycled' : 'always connected'} draws less at a ${config.uploadIntervalMs / 1000} s upload interval`
        : 'set by configuration',
    });
  }

  const sampler = new Sampler(queue, hal.sensor, hal.clock);
  const counters = { published: 0, acked: 0, publishErrors: 0, queueErrors: 0 };
  /** Batches awaiting PUBACK, by packet id, in the order sent. */
  const inflight = new Map<number, UploadBatch>();
  let cursor: BatchCursor | undefined;

  const client = new MqttClient(
    {
      clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing,
      keepAliveS: mode === 'always' ? config.keepAliveS : Math.max(config.keepAliveS, 60),
    },
    {
      onConnected: () => supervisor.mqttConnected(),
      onClosed: (reason) => {
        // Unacknowledged batches stay in the queue; the next connection sends them again from the floor.
        inflight.clear();
        cursor = undefined;
        supervisor.mqttClosed(reason);
      },
      onAcked: (packetId) => acknowledged(packetId),
    },
  );
  const supervisor = new LinkSupervisor(hal, config, client, {
    onOnline: () => {
      if (mode === 'always') hal.wifi.setPowerSave('min-modem');
      upload(true);
    },
    onBackoff: (delayMs) => (mode === 'duty' ? sleepThroughBackoff(delayMs) : false),
  });
  if (retained?.link) supervisor.importState(retained.link);

  function acknowledged(packetId: number): void {
    const batch = inflight.get(packetId);
    if (!batch) return;
    inflight.delete(packetId);
    counters.acked++;
    // QoS 1 acks arrive in order on one connection; consume up to the newest acknowledged batch.
    queue.consume(batch.last, batch.droppedTotal);
    hal.log.event('telemetry.acked', { first: batch.first, last: batch.last, count: batch.count, dropped: batch.dropped });
    upload(true);
  }

  /** Send due batches (all of them when `flush`), keeping a few in flight. */
  function upload(flush: boolean): void {
    if (!client.connected) return;
    while (inflight.size < MAX_BATCHES_IN_FLIGHT) {
      if (!flush && !due()) break;
      const batch = buildBatch(queue, { thing: config.thing, fw: FIRMWARE_VERSION }, cursor);
      if (!batch) break;
      const result = client.publish(config.topic, batch.payload, 1);
      if (result instanceof MqttError) {
        counters.publishErrors++;
        hal.log.event('telemetry.publish-error', { kind: result.kind, message: result.message });
        break;
      }
      counters.published++;
      inflight.set(result.packetId!, batch);
      cursor = batch.cursor;
    }
    if (mode === 'duty' && inflight.size === 0 && unsent() === 0) goToSleep();
  }

  function unsent(): number {
    return queue.nextId - 1 - Math.max(queue.floor, cursor?.seq ?? 0);
  }

  function due(): boolean {
    const wallMs = hal.clock.wallTime();
    // Checked once per sample: go at the last check before the oldest sample would exceed the upload interval.
    const maxAgeMs = Math.max(0, config.uploadIntervalMs - config.sampleIntervalMs);
    return batchDue(queue, { wallMs, waitedMs: elapsed(hal.clock.now(), bootTick) }, { maxAgeMs }, cursor);
  }

  function takeSample(): void {
    const result = sampler.sample();
    if (result instanceof Error) {
      counters.queueErrors++;
      hal.log.event('telemetry.queue-error', { kind: result.kind, message: result.message });
    }
  }

  // --- duty-cycled ----------------------------------------------------------

  let sleeping = false;

  function nextSampleDelay(): number {
    const wall = hal.clock.wallTime();
    if (wall !== undefined && nextSampleAt !== null) return Math.max(0, nextSampleAt - wall);
    return Math.max(0, config.sampleIntervalMs - elapsed(hal.clock.now(), bootTick));
  }

  function deepSleep(ms: number, uploadNotBefore: number | null): void {
    if (sleeping) return;
    sleeping = true;
    const wall = hal.clock.wallTime();
    const state: RetainedState = {
      v: 1,
      link: supervisor.exportState(),
      nextSampleAt: wall !== undefined ? wall + nextSampleDelay() : null,
      uploadNotBefore,
    };
    storeRetained(hal, state, queue.snapshot());
    hal.log.event('power.deep-sleep', { ms, state: supervisor.state });
    hal.power.deepSleep(ms);
  }

  function goToSleep(): void {
    if (supervisor.state === 'Online') supervisor.stop();
    deepSleep(nextSampleDelay(), null);
  }

  function sleepThroughBackoff(delayMs: number): boolean {
    const wall = hal.clock.wallTime();
    const sampleIn = nextSampleDelay();
    deepSleep(Math.min(delayMs, sampleIn), wall !== undefined ? wall + delayMs : null);
    return true;
  }

  let nextSampleAt: number | null = null;

  if (mode === 'duty') {
    const wall = hal.clock.wallTime();
    const sampleDue = retained?.nextSampleAt == null || wall === undefined || wall >= retained.nextSampleAt - 50;
    if (sampleDue) {
      takeSample();
      nextSampleAt = wall !== undefined ? (retained?.nextSampleAt ?? wall) + config.sampleIntervalMs : null;
      // A wake that came late (a long upload) does not pile up samples: skip to the next slot ahead.
      if (nextSampleAt !== null && wall !== undefined && nextSampleAt <= wall) nextSampleAt = wall + config.sampleIntervalMs;
    } else {
      nextSampleAt = retained!.nextSampleAt;
    }
    const backoffOver = retained?.uploadNotBefore == null || (wall !== undefined && wall >= retained.uploadNotBefore);
    const needUpload = unsent() > 0 && (wall === undefined || due() || hal.power.bootReason !== 'deep-sleep');
    if (needUpload && backoffOver) {
      supervisor.start();
      hal.timers.set(() => {
        hal.log.event('power.awake-limit', { ms: MAX_AWAKE_MS, state: supervisor.state });
        if (supervisor.state === 'Online') supervisor.stop();
        deepSleep(nextSampleDelay(), null);
      }, MAX_AWAKE_MS);
    } else {
      deepSleep(nextSampleDelay(), backoffOver ? null : retained!.uploadNotBefore);
    }
  } else {
    const sample = () => {
      takeSample();
      upload(false);
      hal.timers.set(sample, config.sampleIntervalMs);
    };
    sample();
    supervisor.start();
  }

  return {
    inspect: (): FirmwareView => ({
      mode,
      state: supervisor.state,
      link: supervisor.stats,
      mqtt: client.stats,
      ...counters,
      samples: sampler.counters.taken,
      nextSeq: queue.nextId,
      floor: queue.floor,
      pending: queue.stats.records,
      queue: queue.stats,
    }),
  };
}
