/**
 * The simulator as a library: one run of one or more simulated devices on a
 * virtual clock, each running the firmware in XS (default) or in Node, and the
 * summary that `npm run sim -- --json` prints.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from '../hal/types';
import { main as firmwareMain } from '../firmware/app/main';
import { Scheduler } from './clock/scheduler';
import { RealIo } from './clock/real-io';
import { buildBundle } from './engine/bundle';
import { NodeEngine } from './engine/node';
import { XsChip } from './engine/xs-chip';
import type { Engine, EngineName } from './engine/types';
import { DeviceHost, type OpenSecureSocket, type RecordedEvent } from './device/host';
import { SeededRandom } from './device/random';
import { SimFlash } from './flash/flash';
import { UsageError, type Scenario } from './scenarios/scenario';
import { scheduleFault } from './faults/faults';
import { ENERGY_PROFILES, type EnergyProfile } from '../firmware/power/policy';
import type { Platform } from './energy/costs';
import { openSecureSocket } from './net/secure';
import { externalWorld, localWorld, modelWorld, type ExternalEndpoint, type World } from './net/world';

export interface SimOptions {
  engine: EngineName;
  scenario: Scenario;
  /** Overrides the scenario's duration. */
  durationMs?: number;
  seed: number;
  realtime?: boolean;
  /**
   * Keep each device's flash in this directory (`flash-<n>.bin`, written through
   * on every write), so a run killed at any instant, even with kill -9, carries
   * on where it stopped when started again with the same directory, as a device
   * does after a power cut. Wall time then starts at the real time.
   */
  stateDir?: string;
  /** Chip energy profile (default esp32). */
  profile?: EnergyProfile['name'];
  /** The firmware build enables automatic light sleep (default true; ESP-IDF's default is off). */
  autoLightSleep?: boolean;
  /** What the device's software can do, for the energy meter (default: this firmware on hal/moddable). */
  platform?: Platform;
  /** Module and export of the firmware app (default: firmware/app/main.ts#main). */
  app?: { module: string; exportName: string; fn: App };
  /** Called about every 250 ms of wall time. */
  onProgress?(simulatedMs: number, durationMs: number): void;
  /** Where the device connects: the built-in local endpoint (default), an external one, or a world a test built. */
  world?: 'local' | 'model' | ExternalEndpoint | ((scheduler: Scheduler) => Promise<World>);
  /** Replaces the host TLS client, e.g. to put a fault-injecting proxy in between. */
  openSecureSocket?: OpenSecureSocket;
  /** Runs after the run, before teardown (tests inspect devices and brokers here). */
  beforeTeardown?(devices: DeviceHost[], world: World): Promise<void>;
  /** Called once the world and devices exist, before time starts (tests schedule faults here). */
  beforeRun?(scheduler: Scheduler, devices: DeviceHost[], world: World): void;
}

export interface SimSummary {
  simulated_ms: number;
  wall_ms: number;
  engine: EngineName;
  seed: number;
  scenario: string;
  devices: number;
  events: number;
  /** SHA-256 of the ordered event log with simulated timestamps (eventsDigest): equal for equal seeds. */
  events_sha256: string;
  boots: number;
  crashes: number;
  xs_compute: number;
  xs_peak_heap_slots: number;
  tls_handshakes: number;
  /** Of tls_handshakes, those that resumed a session. */
  tls_resumed: number;
  tls_failures: Record<string, number>;
  bytes_tx: number;
  bytes_rx: number;
  /** Application bytes plus the 29-byte TLS record overhead, both directions. */
  bytes_on_air: number;
  profile: string;
  /** The power policy device 0's firmware chose (power.policy event). */
  power_mode: string | null;
  energy_mj: number;
  avg_ma: number;
  radio_on_ms: number;
  state_transitions: number;
  connects: number;
  backoff_ms_total: number;
  /** Telemetry accounting over this run (null where the broker's side cannot be seen). */
  samples_generated: number;
  samples_delivered: number | null;
  samples_lost: number | null;
  duplicates: number | null;
  samples_dropped: number;
  dropped_reported: number | null;
  samples_pending: number;
  queue_max_bytes: number;
  flash_writes: number;
  flash_erases: number;
  /** One line per distinct configuration or credential fault the firmware reported. */
  configuration_faults: string[];
  /** The firmware's own view at the end of the run (first device). */
  firmware: unknown;
}

export interface SimResult {
  summary: SimSummary;
  events: RecordedEvent[];
  /** Every connection attempt of every device, virtual ms. */
  connectTimes: number[];
  /** Device 0's current over time: a step at every power-state change (t ms, mA, cumulative mJ). */
  energyTrace: { t: number; ma: number; cumulativeMj: number }[];
}

export async function runSimulation(options: SimOptions): Promise<SimResult> {
  const wallStart = performance.now();
  const stateDir = options.stateDir && prepareStateDir(options.stateDir);
  const scenario = options.scenario;
  const durationMs = options.durationMs ?? scenario.durationMs;
  const scheduler = new Scheduler({ realtime: options.realtime });
  const random = new SeededRandom(options.seed);
  const events: RecordedEvent[] = [];
  const app = options.app ?? { module: 'firmware/app/main.ts', exportName: 'main', fn: firmwareMain as App };
  const bundle = options.engine === 'xs' ? await buildBundle({ app: app.module, exportName: app.exportName }) : undefined;

  // XS: one worker per device for the whole run, a fresh machine state at each boot (engine/xs-chip.ts).
  const chips = new Map<number, XsChip>();
  const startEngine = (host: DeviceHost): Promise<Engine> => {
    if (!bundle) return Promise.resolve(new NodeEngine(app.fn, host));
    let chip = chips.get(host.index);
    if (!chip) chips.set(host.index, (chip = new XsChip(bundle.code)));
    return chip.boot(host);
  };

  const energy = ENERGY_PROFILES[options.profile ?? 'esp32'];
  const worldOption = options.world ?? 'local';
  const world = worldOption === 'local'
    ? await localWorld(scheduler, { latencyMs: energy.roundTripMs / 2 })
    : worldOption === 'model' ? await modelWorld({ now: () => scheduler.now })
      : typeof worldOption === 'function' ? await worldOption(scheduler) : externalWorld(worldOption);
  if (world.realSockets) scheduler.realIo = new RealIo();
  const config = { ...world.deviceConfig, ...scenario.config };

  const devices: DeviceHost[] = [];
  for (let index = 0; index < scenario.devices; index++) {
    devices.push(new DeviceHost({
      index,
      scheduler,
      startEngine,
      // Several devices get distinct client ids unless the scenario names one (a shared id is a takeover test).
      config: scenario.devices > 1 && scenario.config.thing === undefined ? { ...config, thing: `${config.thing}-${index}` } : config,
      random: random.fork(index),
      flash: new SimFlash({ byteLength: 64 * 1024, blockSize: 4096, path: stateDir && join(stateDir, `flash-${index}.bin`) }),
      wifi: { joinTimeoutMs: 3000 },
      credentials: world.credentials,
      resolve: world.resolve,
      epochMs: stateDir ? Date.now() : Date.UTC(2026, 0, 1),
      energy,
      autoLightSleep: options.autoLightSleep ?? true,
      platform: options.platform,
      traceEnergy: index === 0,
      record: (event) => events.push(event),
      openSecureSocket: options.openSecureSocket ?? world.openSecureSocket ?? openSecureSocket,
    }));
  }
  try {
    for (const fault of scenario.faults) scheduleFault(fault, { scheduler, device: devices[fault.device ?? 0], world });
  } catch (error) {
    await world.close();
    throw error;
  }
  const bootRandom = random.fork(0xb007);
  for (const device of devices) scheduler.at(bootRandom.next() * scenario.bootSpreadMs, () => device.boot('power-on'));
  options.beforeRun?.(scheduler, devices, world);

  let progress: ReturnType<typeof setInterval> | undefined;
  if (options.onProgress) {
    progress = setInterval(() => options.onProgress!(scheduler.now, durationMs), 250);
  }
  let firmware: unknown = null;
  const finals: Record<string, unknown>[] = [];
  try {
    await scheduler.run(durationMs);
    for (const device of devices) finals.push(await device.inspect());
    firmware = finals[0];
    await options.beforeTeardown?.(devices, world);
  } finally {
    if (progress) clearInterval(progress);
    for (const device of devices) {
      await device.shutdown();
      device.flash.close();
    }
    for (const chip of chips.values()) await chip.close();
    await world.close();
  }

  const sum = (f: (d: DeviceHost) => number) => devices.reduce((total, d) => total + f(d), 0);
  const telemetry = accountTelemetry(devices, finals, events, world);
  const tlsFailures: Record<string, number> = {};
  for (const device of devices) {
    for (const [category, count] of Object.entries(device.net.tlsFailures)) tlsFailures[category] = (tlsFailures[category] ?? 0) + count;
  }
  return {
    events,
    connectTimes: devices.flatMap((d) => d.net.connectTimes).sort((a, b) => a - b),
    energyTrace: devices[0]?.meter.trace ?? [],
    summary: {
      simulated_ms: Math.round(scheduler.now),
      wall_ms: Math.round(performance.now() - wallStart),
      engine: options.engine,
      seed: options.seed,
      scenario: scenario.name,
      devices: devices.length,
      events: events.length,
      events_sha256: eventsDigest(events),
      boots: sum((d) => d.lifecycle.boots),
      crashes: sum((d) => d.lifecycle.crashes),
      xs_compute: sum((d) => d.lifecycle.compute),
      xs_peak_heap_slots: Math.max(0, ...devices.map((d) => d.lifecycle.peakHeapSlots)),
      tls_handshakes: sum((d) => d.net.tlsHandshakes),
      tls_resumed: sum((d) => d.net.tlsResumed),
      tls_failures: tlsFailures,
      bytes_tx: sum((d) => d.net.bytesTx),
      bytes_rx: sum((d) => d.net.bytesRx),
      bytes_on_air: sum((d) => d.meter.read().bytesOnAir),
      profile: energy.name,
      power_mode: (events.find((e) => e.event === 'power.policy' && e.device === 0)?.fields?.mode as string | undefined) ?? null,
      energy_mj: round(sum((d) => d.meter.read().energyMj), 1),
      avg_ma: round(sum((d) => d.meter.read().avgMa) / Math.max(1, devices.length), 3),
      radio_on_ms: Math.round(sum((d) => d.meter.read().radioOnMs)),
      state_transitions: events.filter((e) => e.event === 'link.transition').length,
      connects: sum((d) => d.net.connects),
      backoff_ms_total: events.filter((e) => e.event === 'link.backoff').reduce((t, e) => t + Number(e.fields?.delayMs ?? 0), 0),
      ...telemetry,
      flash_writes: sum((d) => d.flash.writes),
      flash_erases: sum((d) => d.flash.erases),
      configuration_faults: [...new Set(events.filter((e) => e.event === 'link.configuration-fault')
        .map((e) => `${e.fields?.message} (check ${e.fields?.check})`))],
      firmware,
    },
  };
}

/**
 * Per device: the seqs generated in this run (from the first boot's nextSeq to
 * the last one the firmware reported), which of them the broker received, which
 * are still queued, and which the queue dropped (and counted). A seq that is
 * none of these was lost.
 */
function accountTelemetry(devices: DeviceHost[], finals: Record<string, unknown>[], events: RecordedEvent[], world: World) {
  const out = {
    samples_generated: 0, samples_delivered: 0 as number | null, samples_lost: 0 as number | null, duplicates: 0 as number | null,
    samples_dropped: 0, dropped_reported: 0 as number | null, samples_pending: 0, queue_max_bytes: 0,
  };
  devices.forEach((device, i) => {
    const boots = events.filter((e) => e.device === device.index && e.event === 'app.boot');
    const app = (finals[i]?.app ?? {}) as { nextSeq?: number; floor?: number; queue?: { droppedTotal: number; maxBytes: number; records: number } };
    if (!boots.length || app.nextSeq === undefined) return;
    const thing = String(boots[0].fields?.thing);
    const first = Number(boots[0].fields?.nextSeq);
    const end = app.nextSeq;
    const floor = app.floor ?? 0;
    const dropped = (app.queue?.droppedTotal ?? 0) - Number(boots[0].fields?.droppedTotal ?? 0);
    out.samples_generated += end - first;
    out.samples_dropped += dropped;
    out.samples_pending += app.queue?.records ?? 0;
    out.queue_max_bytes = Math.max(out.queue_max_bytes, app.queue?.maxBytes ?? 0);
    if (!world.deliveries) {
      out.samples_delivered = out.samples_lost = out.duplicates = out.dropped_reported = null;
      return;
    }
    const received = world.deliveries.seqs.get(thing) ?? [];
    const distinct = new Set(received.filter((s) => s >= first && s < end));
    let consumedNotDelivered = 0;
    for (let seq = first; seq < end; seq++) if (!distinct.has(seq) && seq <= floor) consumedNotDelivered++;
    out.samples_delivered! += distinct.size;
    out.duplicates! += received.filter((s) => s >= first && s < end).length - distinct.size;
    out.samples_lost! += Math.max(0, consumedNotDelivered - dropped);
    out.dropped_reported! += world.deliveries.droppedReported.get(thing) ?? 0;
  });
  return out;
}

function prepareStateDir(dir: string): string {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--state ${dir} is a file; give a directory (it is created when missing)`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`--state ${dir}: cannot create it (${(error as NodeJS.ErrnoException).code})`);
  }
  return dir;
}

/** SHA-256 over one JSON line `[t, device, event, fields]` per event, in the order they happened. */
export function eventsDigest(events: readonly RecordedEvent[]): string {
  const hash = createHash('sha256');
  for (const e of events) hash.update(`${JSON.stringify([e.t, e.device, e.event, e.fields ?? null])}\n`);
  return hash.digest('hex');
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
