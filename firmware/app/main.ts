/**
 * The device's entry point: every platform's entry calls `main` once per boot
 * (power-on, wake from deep sleep, reset) with its HAL and the raw
 * configuration. It only wires the parts together:
 * - firmware/telemetry: the durable queue, the sampler, the uploader;
 * - firmware/time: which wall time to trust;
 * - firmware/mqtt and firmware/link: the client and the link supervisor;
 * - firmware/power: always connected or duty-cycled, from the energy profile;
 * - firmware/device: the device's cycle (sample, upload, goodbye, sleep).
 */
import type { AppHandle, Hal } from '../../hal/types';
import { Device, loadRetained } from '../device/device';
import { LinkSupervisor } from '../link/supervisor';
import { MqttClient } from '../mqtt/client';
import { ENERGY_PROFILES, choosePowerMode } from '../power/policy';
import { TelemetryQueue } from '../telemetry/queue';
import { Sampler } from '../telemetry/sampler';
import { Uploader } from '../telemetry/uploader';
import { DEFAULT_TIME_POLICY, Timekeeper } from '../time/timekeeper';
import { ConfigError, resolveConfig, type DeviceConfig } from './config';
import type { ConfigErrorView, FirmwareView } from './view';

export const FIRMWARE_VERSION = '0.3.0';

/** Batches in flight at once. */
const MAX_BATCHES_IN_FLIGHT = 4;

export function main(hal: Hal, raw: unknown): AppHandle {
  let config: DeviceConfig;
  try {
    config = resolveConfig(raw);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    hal.log.event('app.config-error', { message: error.message });
    return { inspect: (): ConfigErrorView => ({ configError: error.message }) };
  }
  const saved = loadRetained(hal);
  const retained = saved?.state;
  const queue = TelemetryQueue.open(hal.flash, saved?.queue.length ? { resume: saved.queue } : {});
  hal.log.event('app.boot', {
    reason: hal.power.bootReason, thing: config.thing, version: FIRMWARE_VERSION, retained: retained !== undefined, resumed: queue.resumed, nextSeq: queue.nextId, droppedTotal: queue.stats.droppedTotal,
  });

  const samplesPerUpload = Math.max(1, Math.round(config.uploadIntervalMs / config.sampleIntervalMs));
  const choice = choosePowerMode(ENERGY_PROFILES[config.chip], {
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

  const time = new Timekeeper(
    hal.clock,
    config.timeServers,
    { ...DEFAULT_TIME_POLICY, buildTimeMs: config.buildTimeMs, resyncMs: config.timeResyncMs },
    { load: () => queue.savedTime, save: (wallMs) => queue.saveTime(wallMs) },
    hal.log,
  );
  const sampler = new Sampler(queue, hal.sensor, { wallTime: () => time.now() });
  const counters = { queueErrors: 0 };
  const keepAliveS = mode === 'always' ? config.keepAliveS : Math.max(config.keepAliveS, 60);
  const client = new MqttClient(
    {
      clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS,
      pubackTimeoutMs: config.pubackTimeoutMs || undefined,
    },
    {
      onConnected: () => supervisor.mqttConnected(),
      onClosed: (reason) => supervisor.mqttClosed(reason),
      onAcked: (packetId) => {
        uploader.acknowledged(packetId);
        device.acknowledged();
      },
    },
  );
  const uploader = new Uploader(queue, client, { topic: config.topic, thing: config.thing, fw: FIRMWARE_VERSION, maxInflight: MAX_BATCHES_IN_FLIGHT }, hal.log);
  const supervisor: LinkSupervisor = new LinkSupervisor(hal, config, client, time, {
    onOnline: () => device.online(),
    onBackoff: (delayMs: number): boolean => device.backoff(delayMs),
  });
  if (retained?.link) supervisor.importState(retained.link);
  const device: Device = new Device(hal, { mode, sampleIntervalMs: config.sampleIntervalMs, uploadIntervalMs: config.uploadIntervalMs, wallTime: () => time.now() },
    queue, sampler, uploader, supervisor, counters);
  device.run(retained);

  return {
    inspect: (): FirmwareView => ({
      mode,
      device: device.state,
      state: supervisor.state,
      link: supervisor.stats,
      mqtt: client.stats,
      ...uploader.counters,
      queueErrors: counters.queueErrors,
      time: time.stats,
      samples: sampler.counters.taken,
      nextSeq: queue.nextId,
      floor: queue.floor,
      pending: queue.stats.records,
      queue: queue.stats,
    }),
  };
}
