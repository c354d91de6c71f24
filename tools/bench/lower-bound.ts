/**
 * `lower_bound`: the least energy any policy could spend to deliver every
 * sample of a run, from the physics of moving the bytes that must move. It
 * imports no policy (nothing of firmware/ but the chip's cost table through
 * test-sim/energy/costs.ts) and is computed, not simulated:
 *
 * - every sample read by the ULP co-processor while the chip stays in deep
 *   sleep (the cheapest wake the ESP32 allows);
 * - one upload per allowed latency (the upload interval), and only while the
 *   broker is reachable: it knows the outages in advance and never wastes an
 *   attempt; samples taken during an outage go with the first upload after it;
 * - each upload: the fastest ESP-IDF boot, the best join the real HAL can do
 *   (its declared `wifiJoin`), no DNS (an address kept in RTC memory), a
 *   resumed TLS handshake on the cheapest implementation the chip runs
 *   (mbedTLS, ECDSA P-256), as a broker that resumes sessions allows (the
 *   local endpoint does; the bench's model broker does not, so no row gets it),
 *   CONNECT/CONNACK and PUBLISH/PUBACK round trips, and the bytes: MQTT headers,
 *   the topic and 6 bytes a sample (a 16-bit time offset, a 32-bit value);
 * - or, when cheaper, staying associated (the lowest connected-idle current),
 *   one full connection per outage, a PINGREQ every 1,200 s (AWS's longest
 *   keepalive) and the same bytes per upload.
 * The lower of the two is the bound.
 */
import type { Fault } from '../../test-sim/scenarios/scenario';
import {
  airtimeCost, handshakeCost, joinCost, MODDABLE_PLATFORM, roundTripCost, wireBytes, handshakeWireBytes,
  type ChipCosts, type Platform,
} from '../../test-sim/energy/costs';

const DAY = 86_400_000;

export interface LowerBoundInput {
  durationMs: number;
  sampleIntervalMs: number;
  /** The allowed latency: at most this long from a sample to its upload. */
  uploadIntervalMs: number;
  faults: Fault[];
  costs: ChipCosts;
  /** Whose join capability bounds the join (default hal/moddable's, as hal/sim declares it). */
  platform?: Platform;
  topicBytes: number;
  clientIdBytes: number;
}

export interface LowerBound {
  strategy: 'duty' | 'connected';
  energy_mj: number;
  energy_per_delivered_sample_mj: number;
  avg_ma: number;
  samples: number;
  uploads: number;
  bytes_on_air_per_day: number;
}

/** Intervals during which the broker cannot be reached (Wi-Fi, broker, path or name down), merged. */
export function outages(faults: Fault[], durationMs: number): [number, number][] {
  const down = faults
    .filter((f) => f.kind === 'wifi-down' || f.kind === 'broker-down' || f.kind === 'blackhole' || f.kind === 'dns-down' || f.kind === 'connack-refused')
    .map((f) => [f.atMs, Math.min(durationMs, f.atMs + f.forMs)] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of down) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

export function lowerBound(input: LowerBoundInput): LowerBound {
  const c = input.costs;
  const platform = input.platform ?? MODDABLE_PLATFORM;
  const best: Platform = {
    name: 'lower-bound', runtime: 'native',
    capabilities: { ...platform.capabilities, tls: { ...platform.capabilities.tls, implementation: 'mbedtls', keyTypes: ['ec-p256'] } },
  };
  const down = outages(input.faults, input.durationMs);
  const downMs = down.reduce((t, [a, b]) => t + (b - a), 0);
  const reachable = 1 - downMs / input.durationMs;
  const samples = Math.floor(input.durationMs / input.sampleIntervalMs);
  const uploads = Math.max(1, Math.ceil((input.durationMs / input.uploadIntervalMs) * reachable));
  const perUpload = samples / uploads;
  // MQTT: CONNECT (14 + client id), CONNACK 4, PUBLISH (5 + 2 + topic + 2 + payload), PUBACK 4, DISCONNECT 2.
  const publish = 9 + input.topicBytes + 6 * perUpload;
  const connect = 14 + input.clientIdBytes;
  const samplingMaMs = samples * c.ulpSampleMs * c.ulpMa;
  const uploadBytes = (withConnect: boolean) =>
    airtimeCost(c, (withConnect ? connect + 2 : 0) + publish + 29 * (withConnect ? 3 : 1), true).maMs
    + airtimeCost(c, (withConnect ? 4 : 0) + 4 + 29 * (withConnect ? 2 : 1), false).maMs
    + (withConnect ? 2 : 1) * roundTripCost(c).maMs;

  // Duty: deep sleep throughout, a boot, join, resumed handshake and the bytes per upload.
  const join = joinCost(c, platform, platform.capabilities.wifiJoin.includes('channel-bssid') ? 'channel-bssid' : 'scan');
  const handshake = handshakeCost(c, best, true);
  const wake = c.fastBootMs * c.bootMa + join.maMs + handshake.maMs + uploadBytes(true);
  const duty = input.durationMs * c.currents.deepSleepMa + samplingMaMs + uploads * wake;
  const dutyBytes = uploads * (wireBytes(connect + 2) + wireBytes(publish) + wireBytes(8) + handshakeWireBytes(true));

  // Connected: associated while reachable (deep sleep while not), a full connection after each outage, pings, bytes.
  const connections = 1 + down.length;
  const pings = (input.durationMs * reachable) / 1_200_000;
  const connected = (input.durationMs - downMs) * c.currents.connectedLightSleepMa + downMs * c.currents.deepSleepMa + samplingMaMs
    + connections * (c.fastBootMs * c.bootMa + join.maMs + handshakeCost(c, best, false).maMs + uploadBytes(true))
    + uploads * uploadBytes(false) + pings * (airtimeCost(c, 2 + 29, true).maMs + roundTripCost(c).maMs);
  const connectedBytes = connections * (wireBytes(connect) + handshakeWireBytes(false)) + uploads * (wireBytes(publish) + wireBytes(4)) + pings * 2 * wireBytes(2);

  const strategy = duty <= connected ? 'duty' : 'connected';
  const charge = Math.min(duty, connected);
  const mj = (charge / 1000) * c.volts;
  return {
    strategy,
    energy_mj: round(mj, 1),
    energy_per_delivered_sample_mj: round(mj / samples, 3),
    avg_ma: round(charge / input.durationMs, 4),
    samples,
    uploads,
    bytes_on_air_per_day: Math.round(((strategy === 'duty' ? dutyBytes : connectedBytes) * DAY) / input.durationMs),
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
