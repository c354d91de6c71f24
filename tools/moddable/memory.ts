/**
 * npm run memory:moddable: the XS memory one full wake needs, measured in the
 * Moddable simulator, each ESP32 target's `creation` held against it, and
 * Moddable's mqtt-aws example measured the same way (README, "Memory").
 *
 *   npm run memory:moddable [-- --json] [--keep DIR]
 *
 * The wake: a debug build for mcsim (instrumented, so the stack peak is kept
 * too) in duty mode, whose flash holds a full telemetry backlog
 * (tools/moddable/backlog.ts), boots, joins, opens TLS to the local endpoint,
 * uploads every queued sample and sleeps. hal/moddable logs the XS machine's
 * peaks as each phase ends (`memory.peaks`: boot, join, handshake, session;
 * native/memory), which this collects for the first wake (a fresh machine, as
 * every wake from deep sleep is on a chip; mcsim's emulated wakes reuse the
 * machine), and Mbed TLS's own heap (outside XS: `tls.measured` at the
 * handshake, the session's `memory.peaks` `tlsHeapPeak` over the connection).
 *
 * A peak counts garbage not yet collected, so it follows the heap XS was given.
 * What a wake needs is shown by a fit run: the same wake with fixed heaps
 * (incremental 0; XS aborts instead of growing) at every target's creation
 * shrunk by MEMORY_MARGIN, which must complete.
 *
 * mcsim runs 64-bit: a slot is 32 bytes there and 16 on ESP32, so slots are
 * counted and budgeted at 16 bytes; chunks (strings, buffers, arrays of slots)
 * are budgeted at the measured bytes, an overestimate on a 32-bit chip. Each
 * target's budget is its `creation` as mcconfig generates it for
 * manifests/esp32.json (manifests/memory.json sets it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalEndpoint } from '../../test-sim/endpoint/endpoint';
import { AWS_MQTT_ALPN } from '../provision/defaults';
import { generateDevPki } from '../provision/pki';
import { writeBacklog } from './backlog';
import { planBuild, ROOT } from './build';

export const WAKE_PHASES = ['boot', 'join', 'handshake', 'session'] as const;
export type WakePhase = (typeof WAKE_PHASES)[number];

export interface PhasePeaks {
  chunkBytes: number;
  slots: number;
  stackSlots: number;
}

export interface WakeMeasurement {
  phases: Partial<Record<WakePhase, PhasePeaks>>;
  /** The largest of each over the wake. */
  wake: PhasePeaks;
  samplesQueued: number;
  samplesDelivered: number;
  publishes: number;
  closes: { clean: number; unclean: number; wills: number };
  keepaliveTimeouts: number;
  /**
   * Mbed TLS's own heap (outside XS; counted by native/tls, `tls.measured`):
   * the handshake's peak, what the connection keeps once up, and the peak
   * over the whole connection until the HAL halts (all Mbed TLS holds, PSA's
   * own state included), bytes.
   */
  tls?: { heapHandshakePeak: number; heapSteady: number; heapConnectionPeak?: number; keyType: string; resumed: boolean };
  /** The device's JSON log lines of the wake. */
  events: Array<{ event: string; fields?: Record<string, unknown> }>;
  /** False when the machine ran out of memory (or stack) before the wake ended; `failure` says how. */
  completed: boolean;
  failure?: string;
}

/** XS `creation` values a fit run sets (manifest `creation`; heap and stack in slots). */
export interface Creation {
  chunk: { initial: number; incremental: number };
  heap: { initial: number; incremental: number };
  stack: number;
  static?: number;
}

export interface MeasureOptions {
  moddable: string;
  /**
   * Run with this creation instead of the simulator's growing heaps: a fit run.
   * With incremental 0 the machine must do the wake within it, or abort.
   */
  creation?: Creation;
  /** Scratch directory (device, PKI); removed afterwards unless `keep`. */
  work?: string;
  /** Build directory (default build/moddable-memory/free or /fit): runs at the same time need their own. */
  buildDir?: string;
  keep?: boolean;
  timeoutMs?: number;
  /** Progress lines. */
  say?: (line: string) => void;
}

/** One full wake in mcsim with a full backlog; resolves with its per-phase XS peaks. */
export async function measureWake(options: MeasureOptions): Promise<WakeMeasurement> {
  const say = options.say ?? (() => {});
  const work = options.work ?? mkdtempSync(join(tmpdir(), 'fieldlink-memory-'));
  mkdirSync(work, { recursive: true });
  const pkiDir = join(work, 'pki');
  const deviceDir = join(work, 'device');
  rmSync(deviceDir, { recursive: true, force: true });
  const pki = await generateDevPki({ out: pkiDir });
  const samplesQueued = writeBacklog(deviceDir, Date.now());
  const endpoint = await createLocalEndpoint({ pki });
  const delivered = new Set<number>();
  endpoint.broker.on('publish', (packet, client) => {
    if (!client) return;
    try {
      const body = JSON.parse(String(packet.payload)) as { samples?: Array<[number, ...unknown[]]> };
      for (const sample of body.samples ?? []) delivered.add(sample[0]);
    } catch {
      // not a telemetry batch
    }
  });
  let sim: ChildProcess | undefined;
  try {
    // One directory per kind, so a fit run with other sizes rebuilds only what changed.
    const outputDir = options.buildDir ?? join(ROOT, 'build', 'moddable-memory', options.creation ? 'fit' : 'free');
    let manifest: string | undefined;
    if (options.creation) {
      // An entry that is the simulator's with this creation (the including manifest's values win).
      mkdirSync(outputDir, { recursive: true });
      manifest = join(outputDir, 'manifest.json');
      writeFileSync(manifest, JSON.stringify({ include: [join(ROOT, 'manifests', 'simulator.json')], creation: options.creation }, null, '\t'));
    }
    const plan = planBuild('sim', [
      '--credentials', pkiDir, '--device', deviceDir,
      'endpoint=127.0.0.1', `port=${endpoint.port}`, `serverName=${pki.endpointName}`, `alpn=${AWS_MQTT_ALPN}`,
      'powerMode=duty', 'sampleIntervalMs=60000', 'uploadIntervalMs=60000',
    ], { ...process.env, MODDABLE: options.moddable }, { outputDir, manifest });
    if (plan === 'help') throw new Error('unreachable');
    mkdirSync(plan.outputDir, { recursive: true });
    say(`building for mcsim (${plan.outputDir})`);
    const build = spawnSync(plan.command, plan.args, { cwd: ROOT, env: plan.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (build.status !== 0) throw new Error(`mcconfig failed:\n${`${build.stdout}${build.stderr}`.slice(-4000)}`);
    // The build tool writes the store after mcconfig; here the plan is run by hand, so write it too.
    const { writeStoreDirectory } = await import('./store');
    if (plan.store?.deviceDir) writeStoreDirectory(plan.store.deviceDir, plan.store.entries);

    say(`running one wake in mcsim with ${samplesQueued} samples queued`);
    const run = await runMcsim(options.moddable, plan.artifact, (events) => events.some((e) => e.event === 'memory.peaks' && e.fields?.phase === 'session'), options.timeoutMs);
    sim = run.sim;
    const { events, failure } = run;
    // The session's peaks are logged as the HAL halts, before it ends the stream: give the broker time to see the close.
    const closeBy = Date.now() + 10_000;
    while (!failure && endpoint.stats.closes.clean + endpoint.stats.closes.unclean === 0 && Date.now() < closeBy) await new Promise((r) => setTimeout(r, 100));
    const { phases, wake } = phasePeaks(events);
    const measured = events.find((e) => e.event === 'tls.measured')?.fields;
    // The HAL's last peaks of the wake (as it halts) carry Mbed TLS's peak since the connection began (hal/moddable/hal.ts).
    const connection = events.find((e) => e.event === 'memory.peaks' && e.fields?.phase === 'session' && typeof e.fields?.tlsHeapPeak === 'number')?.fields;
    return {
      completed: failure === undefined,
      failure,
      phases,
      wake,
      samplesQueued,
      samplesDelivered: delivered.size,
      publishes: endpoint.stats.publishes,
      closes: { clean: endpoint.stats.closes.clean, unclean: endpoint.stats.closes.unclean, wills: endpoint.stats.closes.wills },
      keepaliveTimeouts: endpoint.stats.keepaliveTimeouts,
      tls: measured && typeof measured.heapHandshakePeak === 'number'
        ? {
          heapHandshakePeak: Number(measured.heapHandshakePeak),
          heapSteady: Number(measured.heapSteady),
          heapConnectionPeak: connection ? Number(connection.tlsHeapPeak) : undefined,
          keyType: String(measured.keyType),
          resumed: measured.resumed === true,
        }
        : undefined,
      events,
    };
  } finally {
    stopMcsim(sim);
    await endpoint.close();
    if (!options.keep) rmSync(work, { recursive: true, force: true });
  }
}

type LogLine = WakeMeasurement['events'][number];

/**
 * Starts mcsim on `artifact` (headless through xvfb-run without a display) and
 * collects its JSON log lines until `done` holds, the machine reports an
 * exhausted heap or stack, mcsim exits, or the time is up (an error).
 * The caller stops `sim` (stopMcsim).
 */
async function runMcsim(moddable: string, artifact: string, done: (events: LogLine[]) => boolean, timeoutMs = 600_000): Promise<{ sim: ChildProcess; events: LogLine[]; failure?: string }> {
  const mcsim = join(moddable, 'build', 'bin', 'lin', 'release', 'mcsim');
  const words = process.env.DISPLAY ? ['stdbuf', '-oL', mcsim, artifact] : ['xvfb-run', '-a', 'stdbuf', '-oL', mcsim, artifact];
  const sim = spawn(words[0], words.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: LogLine[] = [];
  let buffered = '';
  let raw = '';
  sim.stdout?.on('data', (chunk: Buffer) => {
    raw = (raw + chunk.toString('utf8')).slice(-65536);
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        events.push(JSON.parse(line) as LogLine);
      } catch {
        // a partial line from a crash
      }
    }
  });
  const deadline = Date.now() + timeoutMs;
  // XS reports an exhausted heap or stack on stdout, then aborts the machine.
  const exhausted = () => raw.match(/memory full|not enough memory|stack overflow|Chunk allocation: failed|Slot allocation: failed/i)?.[0];
  while (Date.now() < deadline && !done(events) && !exhausted() && sim.exitCode === null) await new Promise((r) => setTimeout(r, 250));
  const failure = done(events) ? undefined : exhausted() ?? (sim.exitCode !== null ? `mcsim exited (${sim.exitCode})` : undefined);
  if (!done(events) && !failure) {
    stopMcsim(sim);
    throw new Error(`mcsim did not finish within ${Math.round(timeoutMs / 1000)} s; it said:\n${events.map((e) => JSON.stringify(e)).join('\n').slice(-4000)}`);
  }
  return { sim, events, failure };
}

function stopMcsim(sim: ChildProcess | undefined): void {
  if (!sim?.pid || sim.exitCode !== null) return;
  try {
    process.kill(-sim.pid, 'SIGTERM');
  } catch {
    // gone already
  }
}

/** The first `memory.peaks` of each phase (the first wake), and the largest of each over them. */
function phasePeaks(events: LogLine[]): { phases: WakeMeasurement['phases']; wake: PhasePeaks } {
  const phases: WakeMeasurement['phases'] = {};
  for (const e of events) {
    if (e.event !== 'memory.peaks') continue;
    const phase = e.fields?.phase as WakePhase;
    if (phases[phase]) continue;
    phases[phase] = { chunkBytes: Number(e.fields?.chunkBytes), slots: Number(e.fields?.slots), stackSlots: Number(e.fields?.stackSlots ?? 0) };
    if (phase === 'session') break;
  }
  const all = Object.values(phases);
  if (!all.length) all.push({ chunkBytes: 0, slots: 0, stackSlots: 0 });
  return {
    phases,
    wake: {
      chunkBytes: Math.max(...all.map((p) => p.chunkBytes)),
      slots: Math.max(...all.map((p) => p.slots)),
      stackSlots: Math.max(...all.map((p) => p.stackSlots)),
    },
  };
}

export interface MqttAwsMeasurement {
  /** boot, handshake, session (the example has no join of its own). */
  phases: Partial<Record<WakePhase, PhasePeaks>>;
  wake: PhasePeaks;
  /** PUBLISHes the broker accepted during the session. */
  publishes: number;
  sessionMs: number;
}

/**
 * Moddable's mqtt-aws example, re-created in tools/moddable/mqtt-aws (the same
 * client, options and traffic over Moddable's JavaScript TLS), measured the same
 * way in mcsim against the local endpoint: a debug build, the XS peaks of boot,
 * handshake (to CONNACK) and `sessionMs` of publishing.
 */
export async function measureMqttAws(options: { moddable: string; work: string; sessionMs?: number; timeoutMs?: number; say?: (line: string) => void }): Promise<MqttAwsMeasurement> {
  const say = options.say ?? (() => {});
  const sessionMs = options.sessionMs ?? 30_000;
  const pkiDir = join(options.work, 'mqtt-aws-pki');
  const pki = await generateDevPki({ out: pkiDir });
  const endpoint = await createLocalEndpoint({ pki });
  let sim: ChildProcess | undefined;
  try {
    const outputDir = join(ROOT, 'build', 'moddable-memory', 'mqtt-aws');
    mkdirSync(outputDir, { recursive: true });
    const args = ['-d', '-m', '-p', 'lin', '-t', 'build', '-o', outputDir, join(ROOT, 'tools', 'moddable', 'mqtt-aws', 'manifest.json'),
      'endpoint=127.0.0.1', `port=${endpoint.port}`, `serverName=${pki.endpointName}`, `sessionMs=${sessionMs}`];
    say(`building Moddable's mqtt-aws for mcsim (${outputDir})`);
    const env = { ...process.env, MODDABLE: options.moddable, FIELDLINK_CREDENTIALS: pkiDir, PATH: `${join(options.moddable, 'build', 'bin', 'lin', 'release')}:${process.env.PATH}` };
    const build = spawnSync('mcconfig', args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (build.status !== 0) throw new Error(`mcconfig (mqtt-aws) failed:\n${`${build.stdout}${build.stderr}`.slice(-4000)}`);
    say(`running mqtt-aws in mcsim for ${sessionMs / 1000} s of publishing`);
    const run = await runMcsim(options.moddable, join(outputDir, 'bin', 'lin', 'mc', 'debug', 'mqtt-aws', 'mc.so'),
      (events) => events.some((e) => e.event === 'memory.peaks' && e.fields?.phase === 'session'), options.timeoutMs);
    sim = run.sim;
    if (run.failure) throw new Error(`mqtt-aws in mcsim: ${run.failure}`);
    const { phases, wake } = phasePeaks(run.events);
    return { phases, wake, publishes: endpoint.stats.publishes, sessionMs };
  } finally {
    stopMcsim(sim);
    await endpoint.close();
  }
}

/** Bytes of one XS slot on a 32-bit chip. */
export const ESP32_SLOT_BYTES = 16;

/**
 * The margin every target's creation keeps (README, "Memory"): the wake must
 * complete in mcsim with every fixed heap shrunk by it, so the firmware may grow
 * this much before a test says so.
 */
export const MEMORY_MARGIN = 0.25;

/**
 * The Wi-Fi and lwIP settings Espressif varies between its configuration
 * ranks, each a cap on RAM the protocol stack takes (RX_BA_WIN 0: A-MPDU RX
 * off; LWIP_IRAM_OPTIMIZATION 1: on, which takes SRAM on the C3 and S3).
 */
export const WIFI_RANK_KEYS = [
  'CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM', 'CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM', 'CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER_NUM',
  'CONFIG_ESP_WIFI_RX_BA_WIN', 'CONFIG_LWIP_TCP_SND_BUF_DEFAULT', 'CONFIG_LWIP_TCP_WND_DEFAULT', 'CONFIG_LWIP_IRAM_OPTIMIZATION',
] as const;
export type WifiRankKey = (typeof WIFI_RANK_KEYS)[number];

export interface WifiRank {
  rank: string;
  /** "Available memory (KB)": free internal RAM with Wi-Fi and lwIP running, as Espressif measured it at this rank. */
  availableKb: number;
  settings: Record<WifiRankKey, number>;
}

/**
 * The rank each chip's budget is taken from: ESP-IDF v6.0.2
 * docs/en/api-guides/wifi-driver/wifi-performance-and-power-save.rst, "How to
 * Configure Parameters" (KB there: x 1,024). A configuration whose every
 * setting is at or below a rank's takes no more RAM than it, so it has at least
 * that rank's available memory; manifests/esp32/sdkconfig sets each key, and
 * a test holds the layer to every chip's rank (wifiRankExcess). The ESP32-S3
 * stays at its Default rank's figure: its Minimum rank (273.6 KB) also halves
 * the instruction cache, which fieldlink does not (XS runs from flash).
 */
export const WIFI_RANKS: Record<string, WifiRank> = {
  esp32: {
    rank: 'Minimum', availableKb: 185.2,
    settings: {
      CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM: 4, CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM: 8, CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER_NUM: 8,
      CONFIG_ESP_WIFI_RX_BA_WIN: 0, CONFIG_LWIP_TCP_SND_BUF_DEFAULT: 8 * 1024, CONFIG_LWIP_TCP_WND_DEFAULT: 8 * 1024, CONFIG_LWIP_IRAM_OPTIMIZATION: 1,
    },
  },
  esp32c3: {
    rank: 'Minimum', availableKb: 180,
    settings: {
      CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM: 3, CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM: 6, CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER_NUM: 6,
      CONFIG_ESP_WIFI_RX_BA_WIN: 6, CONFIG_LWIP_TCP_SND_BUF_DEFAULT: 6 * 1024, CONFIG_LWIP_TCP_WND_DEFAULT: 6 * 1024, CONFIG_LWIP_IRAM_OPTIMIZATION: 0,
    },
  },
  esp32s3: {
    rank: 'Default', availableKb: 183.9,
    settings: {
      CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM: 8, CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM: 32, CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER_NUM: 32,
      CONFIG_ESP_WIFI_RX_BA_WIN: 16, CONFIG_LWIP_TCP_SND_BUF_DEFAULT: 32 * 1024, CONFIG_LWIP_TCP_WND_DEFAULT: 32 * 1024, CONFIG_LWIP_IRAM_OPTIMIZATION: 1,
    },
  },
};

/** What an sdkconfig layer sets for each rank key (undefined: the layer leaves it to the base, so it is not held). */
export function wifiSettings(keys: Map<string, string>): Partial<Record<WifiRankKey, number>> {
  const out: Partial<Record<WifiRankKey, number>> = {};
  for (const key of WIFI_RANK_KEYS) {
    const value = keys.get(key);
    if (value !== undefined) out[key] = value === 'y' ? 1 : value === 'n' || value === '' ? 0 : Number(value);
  }
  if (keys.get('CONFIG_ESP_WIFI_AMPDU_RX_ENABLED') === 'n') out.CONFIG_ESP_WIFI_RX_BA_WIN = 0;
  return out;
}

/** The rank keys a layer leaves unset or sets above `rank`, each as `KEY=layer > rank` (empty: within the rank). */
export function wifiRankExcess(layer: Partial<Record<WifiRankKey, number>>, rank: WifiRank): string[] {
  return WIFI_RANK_KEYS.flatMap((key) => {
    const value = layer[key];
    if (value === undefined || Number.isNaN(value)) return [`${key} not set by the layer`];
    return value > rank.settings[key] ? [`${key}=${value} > ${rank.settings[key]}`] : [];
  });
}

/**
 * What Moddable's runtime takes beside the XS machine on every ESP32 target:
 * the stack of its "main" task, which runs XS and, inside it, Mbed TLS
 * (build/devices/esp32/lib/main/main.c: kStack, 10 KB unless the manifest's
 * creation sets nativeStack; Xtensa adds XT_STACK_EXTRA_CLIB, not counted).
 */
export const MODDABLE_MAIN_TASK_STACK_BYTES = 10 * 1024;

/** Free internal RAM with Wi-Fi and lwIP running, per chip: WIFI_RANKS' measured figure. The XS machine and Mbed TLS share it. */
export const CHIP_AVAILABLE_BYTES: Record<string, number> = Object.fromEntries(
  Object.entries(WIFI_RANKS).map(([chip, rank]) => [chip, Math.round(rank.availableKb * 1024)]),
);

/** The chip of each budgeted target, the six of README's board table (m5stack_core2: an ESP32 with PSRAM, budgeted on internal RAM only). */
export const TARGET_CHIP: Record<string, string> = {
  esp32: 'esp32', esp32c3: 'esp32c3', esp32c3_cdc: 'esp32c3', c3_32s_kit_2m: 'esp32c3', esp32s3: 'esp32s3', m5stack_core2: 'esp32',
};

export const BUDGET_TARGETS = Object.keys(TARGET_CHIP);

type GeneratedCreation = { static: number; chunk: { initial: number; incremental: number }; heap: { initial: number; incremental: number }; stack: number };

export interface TargetBudget {
  target: string;
  chip: string;
  /** What mcconfig generates for manifests/esp32.json. */
  creation: GeneratedCreation;
  /** Bytes the XS machine takes on the chip: its static block, else chunks + slots + stack at their initial sizes. */
  xsBytes: number;
  /** creation / need - 1, per kind (fixed heaps), or for the static block as a whole. */
  chunkMargin?: number;
  slotMargin?: number;
  stackMargin: number;
  staticMargin?: number;
  /** CHIP_AVAILABLE_BYTES of its chip. */
  availableBytes: number;
  /** Left of it with the XS machine, Mbed TLS's peak (tlsPeakBytes) and Moddable's main task stack. */
  headroomBytes: number;
}

/** Bytes an XS machine with this creation takes on a 32-bit chip. */
export function xsBytesOnChip(creation: GeneratedCreation): number {
  return creation.static || creation.chunk.initial + (creation.heap.initial + creation.stack) * ESP32_SLOT_BYTES;
}

/** Each target's creation, as mcconfig generates it for manifests/esp32.json (generate-only). */
export function targetCreations(moddable: string, targets: string[], work: string): Array<{ target: string; creation: GeneratedCreation }> {
  const env = { ...process.env, MODDABLE: moddable, IDF_PATH: process.env.IDF_PATH ?? work, FIELDLINK_CREDENTIALS: join(work, 'pki') };
  return targets.map((target) => {
    const plan = planBuild('esp32', target === 'esp32' ? [] : ['--target', target], env, { outputDir: join(work, 'gen'), generateOnly: true });
    if (plan === 'help') throw new Error('unreachable');
    const r = spawnSync(plan.command, plan.args, { cwd: ROOT, env: plan.env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mcconfig ${target}: ${r.stdout}${r.stderr}`);
    const flat = join(work, 'gen', 'tmp', 'esp32', ...(target === 'esp32' ? [] : [target]), 'release', 'fieldlink', 'manifest_flat.json');
    return { target, creation: (JSON.parse(readFileSync(flat, 'utf8')) as { creation: GeneratedCreation }).creation };
  });
}

/**
 * The fixed creation a fit run proves every target's margin with: each kind
 * the smallest any target gives it (a static block: the whole block counts),
 * shrunk by MEMORY_MARGIN.
 */
export function fitCreation(creations: Array<{ creation: GeneratedCreation }>): Creation {
  const shrink = (x: number) => Math.floor(x / (1 + MEMORY_MARGIN));
  const fixed = creations.map((c) => c.creation).filter((c) => !c.static);
  const chunk = shrink(Math.min(...fixed.map((c) => c.chunk.initial)));
  const heap = shrink(Math.min(...fixed.map((c) => c.heap.initial)));
  const stack = shrink(Math.min(...creations.map((c) => c.creation.stack)));
  return { chunk: { initial: chunk, incremental: 0 }, heap: { initial: heap, incremental: 0 }, stack };
}

/** Mbed TLS's largest heap over the wake's connection: its handshake, or its session when that grew more. */
export function tlsPeakBytes(tls: NonNullable<WakeMeasurement['tls']>): number {
  return Math.max(tls.heapHandshakePeak, tls.heapConnectionPeak ?? 0);
}

/**
 * Each target's creation against `need` (what a fixed-heap wake completed
 * with in mcsim) and its chip's free RAM less `tlsBytes` (Mbed TLS's own
 * heap at its peak, tlsPeakBytes; outside XS) and Moddable's main task stack.
 */
export function budgets(creations: Array<{ target: string; creation: GeneratedCreation }>, need: PhasePeaks, tlsBytes: number): TargetBudget[] {
  return creations.map(({ target, creation }) => {
    const chip = TARGET_CHIP[target] ?? 'esp32';
    const xsBytes = xsBytesOnChip(creation);
    const budget: TargetBudget = {
      target, chip, creation, xsBytes,
      stackMargin: creation.stack / need.stackSlots - 1,
      availableBytes: CHIP_AVAILABLE_BYTES[chip],
      headroomBytes: CHIP_AVAILABLE_BYTES[chip] - xsBytes - tlsBytes - MODDABLE_MAIN_TASK_STACK_BYTES,
    };
    if (creation.static) {
      budget.staticMargin = creation.static / (need.chunkBytes + (need.slots + need.stackSlots) * ESP32_SLOT_BYTES) - 1;
    } else {
      budget.chunkMargin = creation.chunk.initial / need.chunkBytes - 1;
      budget.slotMargin = creation.heap.initial / need.slots - 1;
    }
    return budget;
  });
}

function pct(x: number | undefined): string {
  if (x === undefined) return '';
  return `${x >= 0 ? '+' : ''}${Math.round(x * 100)} %`;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

async function main(argv: string[]): Promise<number> {
  const { values } = (() => {
    try {
      return parseArgs({ args: argv, options: { json: { type: 'boolean' }, keep: { type: 'string' } }, strict: true });
    } catch (error) {
      return { values: { error: (error as Error).message } as { json?: boolean; keep?: string; error?: string } };
    }
  })();
  if ('error' in values) {
    process.stderr.write(`memory: ${values.error} — use --json or --keep DIR\n`);
    return 2;
  }
  const moddable = process.env.MODDABLE;
  if (!moddable || !existsSync(join(moddable, 'build', 'bin', 'lin', 'release', 'mcsim'))) {
    process.stderr.write('memory: $MODDABLE is not set or its tools (mcsim) are not built — documentation/Moddable SDK - Getting Started.md\n');
    return 2;
  }
  if (!process.env.DISPLAY && spawnSync('sh', ['-c', 'command -v xvfb-run && command -v stdbuf'], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write('memory: no display and no xvfb-run/stdbuf for mcsim — apt-get install xvfb xauth\n');
    return 2;
  }
  const keep = values.keep === undefined ? undefined : resolve(values.keep);
  const work = keep ?? mkdtempSync(join(tmpdir(), 'fieldlink-memory-'));
  const say = (line: string) => process.stderr.write(`memory: ${line}\n`);
  try {
    const m = await measureWake({ moddable, work: join(work, 'free'), keep: true, say });
    if (!m.completed) throw new Error(`the wake did not complete in mcsim: ${m.failure}`);
    const creations = targetCreations(moddable, BUDGET_TARGETS, join(work, 'free'));
    const fit = fitCreation(creations);
    say(`fit run: the wake with fixed heaps (chunk ${fit.chunk.initial} B, ${fit.heap.initial} slots, stack ${fit.stack} slots)`);
    const f = await measureWake({ moddable, work: join(work, 'fit'), keep: true, say, creation: fit });
    const need: PhasePeaks = { chunkBytes: fit.chunk.initial, slots: fit.heap.initial, stackSlots: fit.stack };
    const tlsPeak = m.tls ? tlsPeakBytes(m.tls) : 0;
    const targets = budgets(creations, need, tlsPeak);
    const aws = await measureMqttAws({ moddable, work, say });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({
        phases: m.phases, wake: m.wake, tls: m.tls, samplesQueued: m.samplesQueued, samplesDelivered: m.samplesDelivered, publishes: m.publishes, closes: m.closes,
        fit: { creation: fit, completed: f.completed, failure: f.failure, phases: f.phases, samplesDelivered: f.samplesDelivered },
        targets, mqttAws: aws,
      })}\n`);
      return f.completed ? 0 : 1;
    }
    const lines = ['| phase | chunk peak (bytes, mcsim 64-bit) | slot peak (slots) | stack peak (slots) | mqtt-aws chunk | mqtt-aws slots | mqtt-aws stack |', '|---|---|---|---|---|---|---|'];
    const row = (name: string, p: PhasePeaks | undefined, a: PhasePeaks | undefined) =>
      `| ${name} | ${p ? p.chunkBytes.toLocaleString('en') : '-'} | ${p ? p.slots.toLocaleString('en') : '-'} | ${p ? p.stackSlots : '-'} | ${a ? a.chunkBytes.toLocaleString('en') : '-'} | ${a ? a.slots.toLocaleString('en') : '-'} | ${a ? a.stackSlots : '-'} |`;
    for (const phase of WAKE_PHASES) lines.push(row(phase, m.phases[phase], aws.phases[phase]));
    lines.push(row('**wake**', m.wake, aws.wake));
    lines.push('', `${m.samplesQueued} samples queued, ${m.samplesDelivered} delivered in ${m.publishes} publishes; closes ${JSON.stringify(m.closes)}; mqtt-aws: ${aws.publishes} publishes in ${aws.sessionMs / 1000} s`);
    if (m.tls) lines.push(`Mbed TLS heap (outside XS, ${m.tls.keyType} device key, ${m.tls.resumed ? 'resumed' : 'full'} handshake): handshake peak ${kb(m.tls.heapHandshakePeak)}, steady ${kb(m.tls.heapSteady)}, connection peak ${m.tls.heapConnectionPeak === undefined ? 'not logged' : kb(m.tls.heapConnectionPeak)}`);
    lines.push(`Fit run (fixed heaps: chunk ${fit.chunk.initial.toLocaleString('en')} B, ${fit.heap.initial.toLocaleString('en')} slots, stack ${fit.stack}): ${f.completed ? `completed, ${f.samplesDelivered} of ${f.samplesQueued} delivered` : `FAILED (${f.failure})`}`, '');
    lines.push('| target | creation | XS on chip | chunk | slots | stack | static block | free RAM (chip) | left after XS + Mbed TLS peak + main task stack |', '|---|---|---|---|---|---|---|---|---|');
    for (const t of targets) {
      const c = t.creation;
      const creation = c.static ? `static ${c.static}, stack ${c.stack}` : `chunk ${c.chunk.initial}+${c.chunk.incremental}, heap ${c.heap.initial}+${c.heap.incremental}, stack ${c.stack}`;
      lines.push(`| ${t.target} | ${creation} | ${kb(t.xsBytes)} | ${pct(t.chunkMargin)} | ${pct(t.slotMargin)} | ${pct(t.stackMargin)} | ${pct(t.staticMargin)} | ${kb(t.availableBytes)} (${t.chip}) | ${kb(t.headroomBytes)} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return f.completed ? 0 : 1;
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error) => {
    process.stderr.write(`memory: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
}
