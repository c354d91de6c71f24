/**
 * `npm run bench -- [options]`: figures that should not regrow unnoticed, one
 * section per subsystem (MQTT now; energy and others add a `Section`).
 *
 * Deterministic: compute is xsnap's meter (XS counts bytecodes and builtin
 * work, never time), heap slots are XS's own count, inputs come from `--seed`,
 * and code sizes come from esbuild. The same sources and seed give the same
 * numbers on every run and machine. Nothing here is wall-clock time.
 *
 * Units: "XS meter units" are xsnap's crank meter (about one per bytecode, more
 * for builtins that loop). "XS heap slots" are XS's fixed-size value cells
 * (16 bytes on the ESP32, 32 on a 64-bit host); the bytes behind strings and
 * ArrayBuffers live in XS's chunk heap, which xsnap does not report per run.
 *
 * User mistakes print one line and exit 2; with --json the last stdout line is
 * one JSON object, `{ "<section>": { "<key>": number | null, ... }, ... }`.
 */
import { exitUsage, parseOptions } from '../cli';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { buildBundle, ROOT } from '../../test-sim/engine/bundle';
import { XsEngine } from '../../test-sim/engine/xs';
import { message, Op, withJson } from '../../hal/sim/wire';
import { PAYLOAD_BYTES, type BenchOp, type CodecBenchReport } from './apps/mqtt-codec';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runPolicyBench, type PolicyBench } from './policies';
import { benchHtml, fmtSpread } from './html';
import { ROWS } from './rows';
import { runSimulation } from '../../test-sim/sim';
import { parseScenario } from '../../test-sim/scenarios/scenario';

const HELP = `Usage: npm run bench -- [options]

Compares this firmware's policy ("adaptive") with re-creations of what users
of other clients run (esp-mqtt, ESP-IDF deep sleep, the coreMQTT demo,
Moddable's mqtt-aws, a naive per-sample device), each configured as its users
would, over the same seeded traces of trouble (Wi-Fi drops, broker outages and
refusals, blackholes, DNS failures, power cuts, one 3-day outage), next to a
lower bound computed from physics; then a sweep of sample and upload
intervals, the engine costs in XS and the MQTT codec's cost. Every figure is
reproducible for the same seeds (simulated time, XS meter units, never wall time).

Options:
  --seeds N    number of seeds, 1..N (default: 5)
  --seed N     run this one seed only
  --days N     simulated days per run (default: 7)
  --sweep-days N  simulated days per sweep point (default: 1)
  --no-sweep   skip the interval sweep
  --jobs N     worker processes (default: 2)
  --rows LIST  run only these rows, comma-separated (default: all)
  --only LIST  run only these parts, comma-separated: policies, engine, mqtt
  --html PATH  where to write bench.html (default: bench.html; "-" for none)
  --json       print one JSON object as the last line:
               {"rows": [...], "lower_bound": {...}, "seeds": [...], "sweep": [...], "engine": {...}, "mqtt": {...}}
  -h, --help   this help
`;

interface Row {
  /** JSON key within the section. */
  key: string;
  label: string;
  value: number | null;
  unit: string;
}

interface BenchOptions {
  seed: number;
}

interface Section {
  /** JSON key of the section. */
  name: string;
  title: string;
  run(options: BenchOptions): Promise<Row[]>;
}

// ---------------------------------------------------------------- MQTT

const CODEC_APP = { app: 'tools/bench/apps/mqtt-codec.ts', exportName: 'mqttCodecBench' };
/**
 * Loop lengths. Differences between them cancel setup, boot and message parsing
 * exactly; they stay short so that XS never collects garbage during a run (its
 * heap starts with 256 K free slots), which keeps the live slot count a count of
 * what the loop allocated.
 */
const LENGTHS = [10, 60, 110] as const;

interface Run {
  compute: number;
  /** Live XS heap slots after the boot delivery. */
  slots: number;
  report: CodecBenchReport;
}

/** Boots a fresh XS machine with the codec bench app and meters the boot delivery. */
async function runCodec(code: string, op: BenchOp, iterations: number, seed: number): Promise<Run> {
  const engine = await XsEngine.start(code, {
    handle: () => {
      throw new Error('the codec bench app made a host call while being measured');
    },
  });
  try {
    const before = engine.meter.compute;
    await engine.deliver(withJson(Op.Boot, 0, { reason: 'power-on', config: { op, iterations, seed } }));
    // The meter keeps the largest count seen; the boot delivery only adds slots, so that is its count.
    const run = { compute: engine.meter.compute - before, slots: engine.meter.peakHeapSlots };
    const reply = await engine.deliver(message(Op.Inspect, 0, 0).bytes);
    return { ...run, report: (JSON.parse(new TextDecoder().decode(reply)) as { app: CodecBenchReport }).app };
  } finally {
    await engine.stop();
  }
}

async function runLengths(code: string, op: BenchOp, seed: number): Promise<Run[]> {
  const runs: Run[] = [];
  for (const n of LENGTHS) runs.push(await runCodec(code, op, n, seed));
  return runs;
}

/**
 * Per-operation cost: the slope of the op's loop minus the slope of the empty
 * loop, over two intervals that must agree (else a collection ran: `null`).
 */
function perOperation(op: Run[], empty: Run[], what: 'compute' | 'slots'): number | null {
  const slope = (i: number): number =>
    (op[i + 1][what] - op[i][what] - (empty[i + 1][what] - empty[i][what])) / (LENGTHS[i + 1] - LENGTHS[i]);
  const a = slope(0);
  const b = slope(1);
  if (a !== b) {
    process.stderr.write(`bench: ${op[0].report.op} ${what} per op is not constant (${a} then ${b}); reported as null\n`);
    return null;
  }
  return a;
}

/** Minified (and gzipped) size of firmware/mqtt: client, codec, decoder and what they import. */
async function mqttCodeSize(): Promise<{ min: number; gzip: number }> {
  const result = await build({
    stdin: {
      contents: "export * from './client';\nexport * from './codec';\nexport * from './decoder';\n",
      resolveDir: join(ROOT, 'firmware/mqtt'),
      sourcefile: 'mqtt-size-entry.ts',
      loader: 'ts',
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const bytes = result.outputFiles[0].contents;
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

const mqtt: Section = {
  name: 'mqtt',
  title: `MQTT codec (one QoS 1 PUBLISH with a ${PAYLOAD_BYTES}-byte payload, in XS)`,
  async run({ seed }) {
    const { code } = await buildBundle(CODEC_APP);
    const empty = await runLengths(code, 'empty', seed);
    const encode = await runLengths(code, 'encode', seed);
    const decode = await runLengths(code, 'decode', seed);
    for (const run of decode) {
      if (run.report.work !== run.report.iterations) throw new Error(`decoded ${run.report.work} of ${run.report.iterations} packets`);
    }
    const size = await mqttCodeSize();
    return [
      { key: 'encode_publish_200b_compute', label: 'encode, compute', value: perOperation(encode, empty, 'compute'), unit: 'XS meter units/op' },
      { key: 'encode_publish_200b_heap_slots', label: 'encode, allocation', value: perOperation(encode, empty, 'slots'), unit: 'XS heap slots/op' },
      { key: 'decode_publish_200b_compute', label: 'decode, compute', value: perOperation(decode, empty, 'compute'), unit: 'XS meter units/op' },
      { key: 'decode_publish_200b_heap_slots', label: 'decode, allocation', value: perOperation(decode, empty, 'slots'), unit: 'XS heap slots/op' },
      { key: 'mqtt_code_bytes_min', label: 'firmware/mqtt minified', value: size.min, unit: 'bytes' },
      { key: 'mqtt_code_bytes_min_gzip', label: 'firmware/mqtt minified, gzip -9', value: size.gzip, unit: 'bytes' },
    ];
  },
};

// ---------------------------------------------------------------- CLI

// ---------------------------------------------------------------- engine costs

const engine: Section = {
  name: 'engine',
  title: 'Firmware in XS (6 simulated hours, default configuration, model broker, one fresh XS machine per wake)',
  async run({ seed }) {
    let events = 0;
    const { summary } = await runSimulation({
      engine: 'xs', world: 'model', seed, scenario: parseScenario({ duration: '6h' }, 'bench-engine'),
      beforeTeardown: async (devices) => { events = devices[0].meter.read().ops.events; },
    });
    const size = await build({
      entryPoints: [join(ROOT, 'firmware/app/main.ts')], bundle: true, minify: true, format: 'esm', platform: 'neutral',
      target: 'es2022', legalComments: 'none', write: false, logLevel: 'silent',
    });
    const bytes = size.outputFiles[0].contents;
    const delivered = summary.samples_delivered ?? 0;
    const day = await xsDayWallMs(seed);
    return [
      { key: 'xs_compute_per_delivered_sample', label: 'compute per delivered sample', value: delivered ? Math.round(summary.xs_compute / delivered) : null, unit: 'XS meter units' },
      { key: 'xs_compute_per_event', label: 'compute per firmware event (costs.ts xsUnitsPerEvent)', value: events ? Math.round(summary.xs_compute / events) : null, unit: 'XS meter units' },
      { key: 'xs_peak_heap_slots', label: 'peak heap of one wake', value: summary.xs_peak_heap_slots, unit: 'XS heap slots' },
      { key: 'firmware_code_bytes_min', label: 'firmware/ minified', value: bytes.length, unit: 'bytes' },
      { key: 'firmware_code_bytes_min_gzip', label: 'firmware/ minified, gzip -9', value: gzipSync(bytes, { level: 9 }).length, unit: 'bytes' },
      { key: 'samples_delivered', label: 'samples delivered in the run', value: delivered, unit: 'samples' },
      { key: 'xs_day_wall_ms', label: 'npm run sim -- --engine xs --duration 24h (the duty-cycled day, local endpoint), start to exit', value: day, unit: 'ms of wall time' },
    ];
  },
};

/** Wall time of the simulator's own command for a duty-cycled day in XS, as a user runs it (process start to exit). */
async function xsDayWallMs(seed: number): Promise<number> {
  const started = performance.now();
  const child = spawnSync(process.execPath, [join(ROOT, 'tools/run.mjs'), 'test-sim/cli/main.ts',
    '--engine', 'xs', '--duration', '24h', '--seed', String(seed), '--json', '--no-report'], { cwd: ROOT, encoding: 'utf8' });
  const ms = Math.round(performance.now() - started);
  if (child.status !== 0) throw new Error(`npm run sim failed: ${child.stderr.trim().split('\n').pop()}`);
  return ms;
}

const SECTIONS: Section[] = [engine, mqtt];

function policyTable(bench: PolicyBench): string {
  const cols: [string, (r: PolicyBench['rows'][number]) => string][] = [
    ['mJ/sample', (r) => r.status ? 'stops' : fmtSpread(r.metrics.energy_per_delivered_sample_mj, 1)],
    ['band', (r) => `${fmtSpread({ ...r.bands.optimistic.energy_per_delivered_sample_mj, min: null, max: null }, 0)}-${fmtSpread({ ...r.bands.pessimistic.energy_per_delivered_sample_mj, min: null, max: null }, 0)}`],
    ['avg mA', (r) => fmtSpread(r.metrics.avg_ma, 3)],
    ['days', (r) => fmtSpread(r.metrics.battery_days, 0)],
    ['p95 s', (r) => fmtSpread(r.metrics.latency_p95_s, 0)],
    ['lost', (r) => fmtSpread(r.metrics.samples_lost, 0)],
    ['dropped', (r) => fmtSpread(r.metrics.samples_dropped, 0)],
  ];
  const body = bench.rows.map((r) => [r.policy, ...cols.map(([, f]) => f(r))]);
  const lb = bench.lower_bound.metrics;
  body.push(['lower_bound', fmtSpread(lb.energy_per_delivered_sample_mj, 1), '', fmtSpread(lb.avg_ma, 3), fmtSpread(lb.battery_days, 0), '', '0', '0']);
  const head = ['policy', ...cols.map(([label]) => label)];
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  const lines = [line(head), ...body.map(line), '', 'median (min-max) over seeds; band: median under the optimistic-pessimistic cost tables', ''];
  for (const r of bench.rows) lines.push(`${r.policy}: ${r.status ?? r.recreates}`);
  lines.push(`lower_bound: ${bench.lower_bound.what}`);
  return `${lines.join('\n')}\n\n`;
}

function fail(message: string): never {
  return exitUsage('bench', message);
}

function options() {
  return parseOptions('bench', {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '5' },
    days: { type: 'string', default: '7' },
    'sweep-days': { type: 'string', default: '1' },
    'no-sweep': { type: 'boolean', default: false },
    jobs: { type: 'string', default: '2' },
    html: { type: 'string', default: 'bench.html' },
    only: { type: 'string', default: 'policies,engine,mqtt' },
    rows: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
}

function table(results: { section: Section; rows: Row[] }[]): string {
  const lines: string[] = [];
  const width = Math.max(...results.flatMap(({ rows }) => rows.map((r) => r.label.length)));
  for (const { section, rows } of results) {
    lines.push(section.title);
    for (const row of rows) {
      const value = row.value === null ? 'n/a' : row.value.toLocaleString('en', { maximumFractionDigits: 2 });
      lines.push(`  ${row.label.padEnd(width)}  ${value.padStart(10)}  ${row.unit}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = options();
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  const int = (name: string, value: string, min: number, max: number): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return Number(value);
  };
  const seeds = args.seed !== undefined ? [int('seed', args.seed, 0, 0xffffffff)] : Array.from({ length: int('seeds', args.seeds!, 1, 50) }, (_, i) => i + 1);
  const days = int('days', args.days!, 1, 60);
  const sweepDays = int('sweep-days', args['sweep-days']!, 1, 30);
  const jobs = int('jobs', args.jobs!, 1, 16);
  const bench: BenchOptions = { seed: seeds[0] };
  const rowNames = args.rows?.split(',').map((r) => r.trim());
  const unknownRows = rowNames?.filter((r) => !ROWS.some((row) => row.name === r)) ?? [];
  if (rowNames && (unknownRows.length || !rowNames.length)) fail(`--rows takes ${ROWS.map((r) => r.name).join(', ')}; got "${args.rows}"`);
  const tty = process.stderr.isTTY;
  const started = performance.now();
  const progress = (line: string) => {
    if (tty) process.stderr.write(`\r\x1b[K[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);
  };
  const only = args.only!.split(',').map((p) => p.trim());
  const known = ['policies', ...SECTIONS.map((s) => s.name)];
  const unknown = only.filter((p) => !known.includes(p));
  if (unknown.length || only.length === 0) fail(`--only takes ${known.join(', ')}; got "${args.only}"`);
  const policies = only.includes('policies')
    ? await runPolicyBench({ seeds, days, jobs, sweep: !args['no-sweep'], sweepDays, rows: rowNames, onProgress: progress })
    : undefined;
  if (policies && args.html !== '-') {
    const path = resolve(args.html!);
    writeFileSync(path, benchHtml(policies, { seeds, days }));
    process.stderr.write(`${tty ? '\r\x1b[K' : ''}bench: wrote ${path}\n`);
  }
  const results: { section: Section; rows: Row[] }[] = [];
  for (const section of SECTIONS.filter((s) => only.includes(s.name))) {
    progress(section.title);
    results.push({ section, rows: await section.run(bench) });
  }
  if (tty) process.stderr.write('\r\x1b[K');
  if (args.json) {
    const sections = Object.fromEntries(results.map(({ section, rows }) => [section.name, Object.fromEntries(rows.map((r) => [r.key, r.value]))]));
    const head = policies
      ? { rows: policies.rows, lower_bound: policies.lower_bound, seeds: policies.seeds, sweep: policies.sweep, sweep_policies: policies.sweep_policies, sweep_days: policies.sweep_days }
      : {};
    process.stdout.write(`${JSON.stringify({ days, seed_list: seeds, ...head, ...sections })}\n`);
  } else {
    if (policies) process.stdout.write(policyTable(policies));
    if (results.length) process.stdout.write(table(results));
  }
}

main().catch((error) => {
  process.stderr.write(`bench: internal error: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
