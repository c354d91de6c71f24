/**
 * The simulator as a library: one run of one or more simulated devices on a
 * virtual clock, each running the firmware in XS (default) or in Node, and the
 * summary that `npm run sim -- --json` prints.
 */
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
import { summarize, type SimSummary } from './summary/fields';
import { accountTelemetry, type DeviceInspection } from './summary/telemetry';

export type { SimSummary } from './summary/fields';
export { eventsDigest } from './summary/fields';
import { scheduleFault } from './faults/faults';
import { ENERGY_PROFILES, type EnergyProfile } from '../firmware/power/policy';
import type { Platform } from './energy/costs';
import { openSecureSocket } from './net/secure';
import { SIM_EPOCH_MS } from '../tools/provision/defaults';
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
      epochMs: stateDir ? Date.now() : SIM_EPOCH_MS,
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
  const finals: DeviceInspection[] = [];
  try {
    await scheduler.run(durationMs);
    for (const device of devices) finals.push(await device.inspect());
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

  const summary = summarize({
    engine: options.engine,
    seed: options.seed,
    scenario: scenario.name,
    simulatedMs: scheduler.now,
    wallMs: performance.now() - wallStart,
    profile: energy,
    devices,
    events,
    finals,
    world,
    telemetry: accountTelemetry(devices, finals, events, world),
  });
  return {
    events,
    connectTimes: devices.flatMap((d) => d.net.connectTimes).sort((a, b) => a - b),
    energyTrace: devices[0]?.meter.trace ?? [],
    summary,
  };
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
