/**
 * Device-side probe for broker interop tests (runs in XS like the firmware):
 * joins through the LinkSupervisor, subscribes to `probe/<thing>/#`, publishes
 * `count` messages to `probe/<thing>/m` (QoS alternating 0 and 1 unless `qos`
 * is set) `burst` at a time every `everyMs`, and records what came back.
 */
import type { AppHandle, Hal } from '../../hal/types';
import { resolveConfig } from '../../firmware/app/config';
import { MqttClient } from '../../firmware/mqtt/client';
import { MqttError } from '../../firmware/mqtt/errors';
import { LinkSupervisor } from '../../firmware/link/supervisor';
import { DEFAULT_TIME_POLICY, Timekeeper } from '../../firmware/time/timekeeper';
import { fromUtf8, toUtf8 } from '../../firmware/util/text';

interface ProbeConfig {
  count?: number;
  burst?: number;
  everyMs?: number;
  qos?: 0 | 1;
  firstAfterMs?: number;
}

export function probe(hal: Hal, raw: unknown): AppHandle {
  const config = resolveConfig(raw);
  const p = (raw ?? {}) as ProbeConfig;
  const count = p.count ?? 10;
  const burst = p.burst ?? 1;
  const base = `probe/${config.thing}`;
  let sent = 0;
  const received: string[] = [];
  const acked: number[] = [];
  const errors: string[] = [];
  const sessions: boolean[] = [];
  const client = new MqttClient(
    { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: config.keepAliveS },
    {
      onConnected: (sessionPresent) => {
        sessions.push(sessionPresent);
        supervisor.mqttConnected();
        if (sessions.length === 1) client.subscribe([{ topic: `${base}/#`, qos: 1 }]);
      },
      onClosed: (reason) => supervisor.mqttClosed(reason),
      onAcked: (id) => acked.push(id),
      onMessage: (m) => {
        received.push(`${m.qos}:${fromUtf8(m.payload)}`);
      },
    },
  );
  const time = new Timekeeper(hal.clock, config.timeServers, { ...DEFAULT_TIME_POLICY, buildTimeMs: config.buildTimeMs }, { load: () => undefined, save: () => {} });
  const supervisor = new LinkSupervisor(hal, config, client, time);
  const tick = () => {
    for (let i = 0; i < burst && sent < count; i++) {
      const qos = p.qos ?? ((sent % 2) as 0 | 1);
      const r = client.publish(`${base}/m`, toUtf8(String(sent)), qos);
      if (r instanceof MqttError) {
        errors.push(r.kind);
        break;
      }
      sent++;
    }
    if (sent < count) hal.timers.set(tick, p.everyMs ?? 1000);
  };
  hal.timers.set(tick, p.firstAfterMs ?? 10_000);
  supervisor.start();
  return {
    inspect: () => ({
      state: supervisor.state,
      sent,
      acked: acked.length,
      inflight: client.session.inflightCount,
      received,
      errors,
      sessions,
      pings: client.stats.pings,
      link: supervisor.stats,
    }),
  };
}
