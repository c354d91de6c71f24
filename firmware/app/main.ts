/**
 * The device's entry point: every platform's entry calls `main` once per boot
 * with its HAL and the raw configuration.
 *
 * This version keeps the link always connected and holds unsent samples in RAM
 * until their batch is acknowledged (PUBACK).
 */
import type { AppHandle, Hal } from '../../hal/types';
import { MqttClient } from '../mqtt/client';
import { MqttError } from '../mqtt/errors';
import { LinkSupervisor } from '../link/supervisor';
import { toUtf8 } from '../util/text';
import { ConfigError, resolveConfig, type DeviceConfig } from './config';

export const FIRMWARE_VERSION = '0.1.0';

interface Sample {
  seq: number;
  t: number | null;
  v: number;
}

export function main(hal: Hal, raw: unknown): AppHandle {
  let config: DeviceConfig;
  try {
    config = resolveConfig(raw);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    hal.log.event('app.config-error', { message: error.message });
    return { inspect: () => ({ configError: error.message }) };
  }
  hal.log.event('app.boot', { reason: hal.power.bootReason, thing: config.thing, version: FIRMWARE_VERSION });

  let seq = 0;
  const pending: Sample[] = [];
  /** Batches awaiting PUBACK: packet id to the last seq they carry. */
  const inflight = new Map<number, number>();
  const counters = { samples: 0, published: 0, acked: 0, publishErrors: 0 };

  const client = new MqttClient(
    { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: config.keepAliveS },
    {
      onConnected: () => supervisor.mqttConnected(),
      onClosed: (reason) => supervisor.mqttClosed(reason),
      onAcked: (packetId) => {
        const last = inflight.get(packetId);
        inflight.delete(packetId);
        if (last === undefined) return;
        counters.acked++;
        while (pending.length && pending[0].seq <= last) pending.shift();
      },
    },
  );
  const supervisor = new LinkSupervisor(hal, config, client, { onOnline: () => upload() });

  function upload(): void {
    if (!client.connected || pending.length === 0) return;
    const sentUpTo = inflight.size ? Math.max(...inflight.values()) : -1;
    const batch = pending.filter((s) => s.seq > sentUpTo);
    if (batch.length === 0) return;
    const payload = toUtf8(JSON.stringify({
      thing: config.thing,
      seq: [batch[0].seq, batch[batch.length - 1].seq],
      samples: batch.map((s) => [s.seq, s.t, s.v]),
      dropped: 0,
      fw: FIRMWARE_VERSION,
    }));
    const result = client.publish(config.topic, payload, 1);
    if (result instanceof MqttError) {
      counters.publishErrors++;
      hal.log.event('app.publish-error', { kind: result.kind, message: result.message });
      return;
    }
    counters.published++;
    inflight.set(result.packetId!, batch[batch.length - 1].seq);
  }

  function sample(): void {
    pending.push({ seq: seq++, t: hal.clock.wallTime() ?? null, v: hal.sensor.read() });
    counters.samples++;
    hal.timers.set(sample, config.sampleIntervalMs);
  }
  function uploadTick(): void {
    upload();
    hal.timers.set(uploadTick, config.uploadIntervalMs);
  }

  hal.timers.set(sample, 0);
  hal.timers.set(uploadTick, config.uploadIntervalMs);
  supervisor.start();

  return {
    inspect: () => ({
      state: supervisor.state,
      link: supervisor.stats,
      mqtt: client.stats,
      ...counters,
      pending: pending.length,
    }),
  };
}
