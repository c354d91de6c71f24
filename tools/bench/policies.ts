/**
 * The policy comparison of `npm run bench`: this firmware ("adaptive") and
 * re-creations of the clients users would otherwise pick (tools/bench/apps/
 * anchors.ts), each run by the same simulator over the same seeded week of
 * trouble (test-sim/scenarios/trace.ts) with the same energy profile and
 * sampling, plus the physical floor under the same energy model.
 *
 * Runs use the Node engine (the same firmware; a week of per-sample wakes in XS
 * would take tens of minutes) and the in-process model broker
 * (test-sim/net/model-broker.ts), so every figure is deterministic for a seed:
 * no real socket timing enters. The tests run the same firmware against real
 * TLS and real brokers.
 */
import { runSimulation, type SimSummary } from '../../test-sim/sim';
import { connectsPerSecond } from '../../test-sim/fleet';
import { loadScenario, type Fault, type Scenario } from '../../test-sim/scenarios/scenario';
import { outageTrace } from '../../test-sim/scenarios/trace';
import { ENERGY_PROFILES, onlineUploadCharge, type EnergyProfile } from '../../firmware/link/energy';
import { DEFAULTS } from '../../firmware/app/config';
import { main as firmware } from '../../firmware/app/main';
import { anchor, type AnchorName } from './apps/anchors';
import type { App } from '../../hal/types';

const DAY = 86_400_000;
const BATTERY_MAH = 2500;

export interface PolicyRow {
  policy: string;
  recreates: string;
  energy_per_delivered_sample_mj: number | null;
  avg_ma: number;
  battery_days: number;
  handshakes_per_day: number;
  bytes_per_day: number;
  samples_generated: number;
  samples_delivered: number;
  samples_lost: number;
  fleet_peak_connects_per_s: number | null;
}

interface Policy {
  name: string;
  recreates: string;
  app: { module: string; exportName: string; fn: App };
  config: Record<string, unknown>;
  /** The build enables ESP-IDF automatic light sleep (this firmware does; ESP-IDF's default does not). */
  autoLightSleep: boolean;
}

const FIRMWARE = { module: 'firmware/app/main.ts', exportName: 'main', fn: firmware as App };
const ANCHORS = { module: 'tools/bench/apps/anchors.ts', exportName: 'anchor', fn: anchor as App };

const anchorPolicy = (name: AnchorName, recreates: string): Policy => ({
  name, recreates, app: ANCHORS, config: { anchor: name }, autoLightSleep: false,
});

export const POLICIES: Policy[] = [
  {
    name: 'adaptive',
    recreates: 'this firmware: power policy by break-even, durable queue, full-jitter backoff (firmware/)',
    app: FIRMWARE, config: {}, autoLightSleep: true,
  },
  anchorPolicy('moddable-mqtt-aws', 'Moddable SDK examples/network/aws/mqtt-aws: always connected, keepalive 60 s, no reconnect'),
  anchorPolicy('esp-mqtt', 'ESP-IDF esp-mqtt defaults: keepalive 120 s, reconnect_timeout_ms 10 s fixed'),
  anchorPolicy('coremqtt-demo', 'FreeRTOS coreMQTT demo + backoffAlgorithm: full jitter base 500 ms, cap 5 s'),
  anchorPolicy('naive-duty', 'wake, join, handshake and publish once per sample, deep sleep between'),
];

export interface PolicyBenchOptions {
  seed: number;
  days: number;
  /** Devices in the fleet column (0 skips it). */
  fleet: number;
  profile?: EnergyProfile['name'];
  onProgress?(line: string): void;
}

async function weekRun(policy: Policy, options: PolicyBenchOptions, scenario: Scenario) {
  let delivered = 0;
  const result = await runSimulation({
    engine: 'node',
    world: 'model',
    seed: options.seed,
    app: policy.app,
    profile: options.profile,
    autoLightSleep: policy.autoLightSleep,
    scenario: { ...scenario, config: { ...scenario.config, ...policy.config } },
    beforeTeardown: async (_devices, world) => {
      delivered = new Set(world.deliveries?.seqs.get(String(DEFAULTS.thing)) ?? []).size;
    },
  });
  return { summary: result.summary, delivered };
}

function generated(summary: SimSummary, policy: Policy): number {
  if (policy.name === 'adaptive') return summary.samples_generated;
  const app = (summary.firmware as { app?: { nextSeq?: number } } | null)?.app;
  return Math.max(0, (app?.nextSeq ?? 1) - 1);
}

async function fleetPeak(policy: Policy, options: PolicyBenchOptions): Promise<number> {
  const scenario = loadScenario('fleet-outage');
  scenario.devices = options.fleet;
  // The fleet scenario runs connected devices; each policy keeps its own power mode here.
  const config: Record<string, unknown> = { ...policy.config };
  const outage = scenario.faults.find((f) => f.kind === 'broker-down')!;
  const end = outage.atMs + outage.forMs;
  const result = await runSimulation({
    engine: 'node', world: 'model', seed: options.seed, app: policy.app, autoLightSleep: policy.autoLightSleep,
    scenario: { ...scenario, config },
  });
  return Math.max(0, ...connectsPerSecond(result.connectTimes, end, result.summary.simulated_ms));
}

/** Share of the run during which the broker could be reached (no Wi-Fi or broker fault active). */
export function reachableShare(faults: Fault[], durationMs: number): number {
  const down = faults.filter((f) => f.kind === 'wifi-down' || f.kind === 'broker-down' || f.kind === 'blackhole')
    .map((f) => [f.atMs, Math.min(durationMs, f.atMs + f.forMs)] as const)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = 0;
  for (const [a, b] of down) {
    if (b <= end) continue;
    covered += b - Math.max(a, end);
    end = b;
  }
  return 1 - covered / durationMs;
}

/**
 * The least the device could spend per delivered sample under the same model:
 * it knows when the broker is reachable and uploads every upload interval only
 * then, never wasting an attempt.
 */
export function floorRow(profile: EnergyProfile, days: number, reachable: number): PolicyRow {
  const samplesPerDay = DAY / DEFAULTS.sampleIntervalMs;
  const uploadsPerDay = (DAY / DEFAULTS.uploadIntervalMs) * reachable;
  const samplesPerUpload = samplesPerDay / Math.max(1, uploadsPerDay);
  const payload = 80 + 27 * samplesPerUpload;
  // Per day: deep sleep throughout; a boot per sample to read the sensor; per upload a hinted join, one
  // handshake, CONNECT/CONNACK and PUBLISH/PUBACK round trips, and the bytes' airtime.
  const charge = DAY * profile.deepSleepMa
    + samplesPerDay * profile.bootMs * profile.bootMa
    + uploadsPerDay * ((profile.joinHintMs + profile.tlsHandshakeMs) * profile.rxMa + onlineUploadCharge(profile, payload) + profile.roundTripMs * profile.rxMa);
  const avgMa = charge / DAY;
  const energyPerDayMj = (charge / 1000) * profile.volts;
  return {
    policy: 'floor',
    recreates: 'physical floor: radio on only for the joins, handshakes, round trips and bytes that must happen; deep sleep otherwise',
    energy_per_delivered_sample_mj: round(energyPerDayMj / samplesPerDay, 3),
    avg_ma: round(avgMa, 3),
    battery_days: round(BATTERY_MAH / avgMa / 24, 1),
    handshakes_per_day: round(uploadsPerDay, 1),
    bytes_per_day: Math.round(uploadsPerDay * (payload + 29 + 60)),
    samples_generated: Math.round(samplesPerDay * days),
    samples_delivered: Math.round(samplesPerDay * days),
    samples_lost: 0,
    fleet_peak_connects_per_s: null,
  };
}

export async function runPolicies(options: PolicyBenchOptions): Promise<{ rows: PolicyRow[]; adaptive_to_floor: number | null }> {
  const durationMs = options.days * DAY;
  const scenario: Scenario = {
    name: 'bench-week', description: 'seeded week of trouble', durationMs, devices: 1, bootSpreadMs: 0, config: {},
    faults: outageTrace({ durationMs, seed: options.seed }),
  };
  const profile = ENERGY_PROFILES[options.profile ?? 'esp32'];
  const rows: PolicyRow[] = [];
  for (const policy of POLICIES) {
    options.onProgress?.(`${policy.name}: ${options.days} simulated day(s)`);
    const { summary, delivered } = await weekRun(policy, options, scenario);
    const gen = generated(summary, policy);
    const pending = policy.name === 'adaptive' ? summary.samples_pending : 0;
    options.onProgress?.(`${policy.name}: fleet of ${options.fleet}`);
    rows.push({
      policy: policy.name,
      recreates: policy.recreates,
      energy_per_delivered_sample_mj: delivered > 0 ? round(summary.energy_mj / delivered, 3) : null,
      avg_ma: round(summary.avg_ma, 3),
      battery_days: round(BATTERY_MAH / summary.avg_ma / 24, 1),
      handshakes_per_day: round(summary.tls_handshakes / options.days, 1),
      bytes_per_day: Math.round(summary.bytes_on_air / options.days),
      samples_generated: gen,
      samples_delivered: delivered,
      samples_lost: Math.max(0, gen - delivered - pending),
      fleet_peak_connects_per_s: options.fleet > 0 ? await fleetPeak(policy, options) : null,
    });
  }
  const floor = floorRow(profile, options.days, reachableShare(scenario.faults, durationMs));
  rows.push(floor);
  const adaptive = rows[0].energy_per_delivered_sample_mj;
  return { rows, adaptive_to_floor: adaptive && floor.energy_per_delivered_sample_mj ? round(adaptive / floor.energy_per_delivered_sample_mj, 2) : null };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
