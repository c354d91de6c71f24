/**
 * npm run memory:moddable: the XS memory one full wake needs, measured in the
 * Moddable simulator, and each ESP32 target's `creation` budget against it.
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
 * machine).
 *
 * mcsim runs 64-bit: a slot is 32 bytes there and 16 on ESP32, so slots are
 * reported as counts and budgeted at 16 bytes; chunks (strings, buffers,
 * arrays of slots) are budgeted at the measured bytes, an overestimate on a
 * 32-bit chip. Each target's budget is its `creation` as mcconfig generates it
 * for manifests/esp32.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
  /** The device's JSON log lines of the wake. */
  events: Array<{ event: string; fields?: Record<string, unknown> }>;
}

export interface MeasureOptions {
  moddable: string;
  /** Scratch directory (device, PKI, build); removed afterwards unless `keep`. */
  work?: string;
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
  let sim: ReturnType<typeof spawn> | undefined;
  try {
    const plan = planBuild('sim', [
      '--credentials', pkiDir, '--device', deviceDir,
      'endpoint=127.0.0.1', `port=${endpoint.port}`, `serverName=${pki.endpointName}`, `alpn=${AWS_MQTT_ALPN}`,
      'powerMode=duty', 'sampleIntervalMs=60000', 'uploadIntervalMs=60000',
    ], { ...process.env, MODDABLE: options.moddable }, { outputDir: join(ROOT, 'build', 'moddable-memory') });
    if (plan === 'help') throw new Error('unreachable');
    mkdirSync(plan.outputDir, { recursive: true });
    say(`building for mcsim (${plan.outputDir})`);
    const build = spawnSync(plan.command, plan.args, { cwd: ROOT, env: plan.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (build.status !== 0) throw new Error(`mcconfig failed:\n${`${build.stdout}${build.stderr}`.slice(-4000)}`);
    // The build tool writes the store after mcconfig; here the plan is run by hand, so write it too.
    const { writeStoreDirectory } = await import('./store');
    if (plan.store?.deviceDir) writeStoreDirectory(plan.store.deviceDir, plan.store.entries);

    const mcsim = join(options.moddable, 'build', 'bin', 'lin', 'release', 'mcsim');
    const words = process.env.DISPLAY ? ['stdbuf', '-oL', mcsim, plan.artifact] : ['xvfb-run', '-a', 'stdbuf', '-oL', mcsim, plan.artifact];
    say(`running one wake in mcsim with ${samplesQueued} samples queued`);
    sim = spawn(words[0], words.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: WakeMeasurement['events'] = [];
    let buffered = '';
    sim.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          events.push(JSON.parse(line) as WakeMeasurement['events'][number]);
        } catch {
          // a partial line from a crash
        }
      }
    });
    const deadline = Date.now() + (options.timeoutMs ?? 240_000);
    const wakeOver = () => events.some((e) => e.event === 'memory.peaks' && e.fields?.phase === 'session');
    while (Date.now() < deadline && !wakeOver() && sim.exitCode === null) await new Promise((r) => setTimeout(r, 250));
    if (!wakeOver()) {
      throw new Error(`the wake did not end within ${Math.round((options.timeoutMs ?? 240_000) / 1000)} s; device said:\n${events.map((e) => JSON.stringify(e)).join('\n').slice(-4000)}`);
    }
    const phases: WakeMeasurement['phases'] = {};
    for (const e of events) {
      if (e.event !== 'memory.peaks') continue;
      const phase = e.fields?.phase as WakePhase;
      if (phases[phase]) continue; // the first wake only
      phases[phase] = { chunkBytes: Number(e.fields?.chunkBytes), slots: Number(e.fields?.slots), stackSlots: Number(e.fields?.stackSlots ?? 0) };
      if (phase === 'session') break;
    }
    const all = Object.values(phases);
    return {
      phases,
      wake: {
        chunkBytes: Math.max(...all.map((p) => p.chunkBytes)),
        slots: Math.max(...all.map((p) => p.slots)),
        stackSlots: Math.max(...all.map((p) => p.stackSlots)),
      },
      samplesQueued,
      samplesDelivered: delivered.size,
      publishes: endpoint.stats.publishes,
      closes: { clean: endpoint.stats.closes.clean, unclean: endpoint.stats.closes.unclean, wills: endpoint.stats.closes.wills },
      keepaliveTimeouts: endpoint.stats.keepaliveTimeouts,
      events,
    };
  } finally {
    if (sim?.pid && sim.exitCode === null) {
      try {
        process.kill(-sim.pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    await endpoint.close();
    if (!options.keep) rmSync(work, { recursive: true, force: true });
  }
}

/** Bytes of one XS slot on a 32-bit chip. */
export const ESP32_SLOT_BYTES = 16;

export interface TargetBudget {
  target: string;
  /** What mcconfig generates for manifests/esp32.json. */
  creation: { static: number; chunk: { initial: number; incremental: number }; heap: { initial: number; incremental: number }; stack: number };
  /** Free after the wake's peaks, as a fraction of what the wake uses: (budget - need) / need. */
  chunkMargin?: number;
  slotMargin?: number;
  stackMargin: number;
  /** Targets with a fixed block (`static`): everything shares it. */
  staticMargin?: number;
}

/** Each target's creation (generate-only mcconfig) against the wake's peaks. */
export function budgets(moddable: string, wake: PhasePeaks, targets: string[], work: string): TargetBudget[] {
  const out: TargetBudget[] = [];
  const env = { ...process.env, MODDABLE: moddable, IDF_PATH: process.env.IDF_PATH ?? work, FIELDLINK_CREDENTIALS: join(work, 'pki') };
  for (const target of targets) {
    const plan = planBuild('esp32', target === 'esp32' ? [] : ['--target', target], env, { outputDir: join(work, 'gen'), generateOnly: true });
    if (plan === 'help') continue;
    const r = spawnSync(plan.command, plan.args, { cwd: ROOT, env: plan.env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mcconfig ${target}: ${r.stdout}${r.stderr}`);
    const flat = join(work, 'gen', 'tmp', 'esp32', ...(target === 'esp32' ? [] : [target]), 'release', 'fieldlink', 'manifest_flat.json');
    const creation = (JSON.parse(readFileSync(flat, 'utf8')) as { creation: TargetBudget['creation'] }).creation;
    const slotBytes = wake.slots * ESP32_SLOT_BYTES;
    const stackBytes = wake.stackSlots * ESP32_SLOT_BYTES;
    const budget: TargetBudget = { target, creation, stackMargin: creation.stack / wake.stackSlots - 1 };
    if (creation.static) {
      budget.staticMargin = creation.static / (wake.chunkBytes + slotBytes + creation.stack * ESP32_SLOT_BYTES) - 1;
      void stackBytes;
    } else {
      // A growing heap (incremental > 0) takes what it needs from the system heap; a fixed one must hold the peak.
      budget.chunkMargin = creation.chunk.incremental ? Infinity : creation.chunk.initial / wake.chunkBytes - 1;
      budget.slotMargin = creation.heap.incremental ? Infinity : creation.heap.initial / wake.slots - 1;
    }
    out.push(budget);
  }
  return out;
}

function pct(x: number | undefined): string {
  if (x === undefined) return '';
  if (x === Infinity) return 'grows';
  return `${x >= 0 ? '+' : ''}${Math.round(x * 100)} %`;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const keepAt = argv.indexOf('--keep');
  const keep = keepAt >= 0 ? resolve(argv[keepAt + 1] ?? '') : undefined;
  for (const arg of argv) {
    if (!['--json', '--keep'].includes(arg) && (keepAt < 0 || arg !== argv[keepAt + 1])) {
      process.stderr.write(`memory: unknown argument "${arg}" — use --json or --keep DIR\n`);
      return 2;
    }
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
  const work = keep ?? mkdtempSync(join(tmpdir(), 'fieldlink-memory-'));
  try {
    const m = await measureWake({ moddable, work, keep: true, say: (line) => process.stderr.write(`memory: ${line}\n`) });
    const targets = budgets(moddable, m.wake, ['esp32', 'esp32c3', 'esp32s3', 'm5stack_core2'], work);
    if (json) {
      process.stdout.write(`${JSON.stringify({ phases: m.phases, wake: m.wake, samplesQueued: m.samplesQueued, samplesDelivered: m.samplesDelivered, publishes: m.publishes, closes: m.closes, targets })}\n`);
      return 0;
    }
    const lines = ['| phase | chunk peak (bytes) | slot peak (slots; bytes at 16 B) | stack peak (slots) |', '|---|---|---|---|'];
    for (const phase of WAKE_PHASES) {
      const p = m.phases[phase];
      if (p) lines.push(`| ${phase} | ${p.chunkBytes.toLocaleString('en')} | ${p.slots.toLocaleString('en')} (${(p.slots * ESP32_SLOT_BYTES).toLocaleString('en')}) | ${p.stackSlots} |`);
    }
    lines.push(`| **wake** | **${m.wake.chunkBytes.toLocaleString('en')}** | **${m.wake.slots.toLocaleString('en')} (${(m.wake.slots * ESP32_SLOT_BYTES).toLocaleString('en')})** | **${m.wake.stackSlots}** |`);
    lines.push('', `${m.samplesQueued} samples queued, ${m.samplesDelivered} delivered in ${m.publishes} publishes; closes ${JSON.stringify(m.closes)}`, '');
    lines.push('| target | creation | chunk | slots | stack | fixed block |', '|---|---|---|---|---|---|');
    for (const t of targets) {
      const c = t.creation;
      const creation = c.static ? `static ${c.static}, stack ${c.stack}` : `chunk ${c.chunk.initial}+${c.chunk.incremental}, heap ${c.heap.initial}+${c.heap.incremental}, stack ${c.stack}`;
      lines.push(`| ${t.target} | ${creation} | ${pct(t.chunkMargin)} | ${pct(t.slotMargin)} | ${pct(t.stackMargin)} | ${pct(t.staticMargin)} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
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
