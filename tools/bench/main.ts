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
import { buildBundle, ROOT } from '../../test-sim/engine/bundle';
import { XsEngine } from '../../test-sim/engine/xs';
import { message, Op, withJson } from '../../hal/sim/wire';
import { PAYLOAD_BYTES, type BenchOp, type CodecBenchReport } from './apps/mqtt-codec';
import { runPolicies, type PolicyRow } from './policies';
import { runSimulation } from '../../test-sim/sim';
import { parseScenario } from '../../test-sim/scenarios/scenario';

const HELP = `Usage: npm run bench -- [options]

Compares this firmware's policy ("adaptive") with re-creations of the clients
you would otherwise pick, over the same seeded week of outages, energy profile
and sampling, next to the physical floor; then the engine costs in XS and the
MQTT codec's cost. Deterministic for a given --seed (simulated time, XS meter
units and heap slots, never wall time).

Options:
  --seed N     seed of the outage trace and every random choice (default: 1)
  --days N     simulated days per policy (default: 7)
  --fleet N    devices in the fleet-storm column (default: 1000; 0 skips it)
  --only LIST  run only these parts, comma-separated: policies, engine, mqtt
  --json       print one JSON object as the last line:
               {"rows": [...], "adaptive_to_floor": x, "engine": {...}, "mqtt": {...}}
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
  days: number;
  fleet: number;
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
    const { summary } = await runSimulation({ engine: 'xs', world: 'model', seed, scenario: parseScenario({ duration: '6h' }, 'bench-engine') });
    const size = await build({
      entryPoints: [join(ROOT, 'firmware/app/main.ts')], bundle: true, minify: true, format: 'esm', platform: 'neutral',
      target: 'es2022', legalComments: 'none', write: false, logLevel: 'silent',
    });
    const bytes = size.outputFiles[0].contents;
    const delivered = summary.samples_delivered ?? 0;
    return [
      { key: 'xs_compute_per_delivered_sample', label: 'compute per delivered sample', value: delivered ? Math.round(summary.xs_compute / delivered) : null, unit: 'XS meter units' },
      { key: 'xs_peak_heap_slots', label: 'peak heap of one wake', value: summary.xs_peak_heap_slots, unit: 'XS heap slots' },
      { key: 'firmware_code_bytes_min', label: 'firmware/ minified', value: bytes.length, unit: 'bytes' },
      { key: 'firmware_code_bytes_min_gzip', label: 'firmware/ minified, gzip -9', value: gzipSync(bytes, { level: 9 }).length, unit: 'bytes' },
      { key: 'samples_delivered', label: 'samples delivered in the run', value: delivered, unit: 'samples' },
    ];
  },
};

const SECTIONS: Section[] = [engine, mqtt];

function policyTable(rows: PolicyRow[], ratio: number | null): string {
  const cols: [keyof PolicyRow, string][] = [
    ['energy_per_delivered_sample_mj', 'mJ/sample'], ['avg_ma', 'avg mA'], ['battery_days', 'days'],
    ['handshakes_per_day', 'TLS/day'], ['bytes_per_day', 'bytes/day'], ['samples_lost', 'lost'], ['fleet_peak_connects_per_s', 'fleet peak/s'],
  ];
  const name = Math.max(...rows.map((r) => r.policy.length));
  const fmt = (v: unknown) => (v === null ? 'n/a' : typeof v === 'number' ? v.toLocaleString('en', { maximumFractionDigits: 2 }) : String(v));
  const width = cols.map(([k, label]) => Math.max(label.length, ...rows.map((r) => fmt(r[k]).length)));
  const lines = [`${'policy'.padEnd(name)}  ${cols.map(([, label], i) => label.padStart(width[i])).join('  ')}`];
  for (const r of rows) lines.push(`${r.policy.padEnd(name)}  ${cols.map(([k], i) => fmt(r[k]).padStart(width[i])).join('  ')}`);
  lines.push('', ...rows.map((r) => `${r.policy}: ${r.recreates}`));
  if (ratio !== null) lines.push('', `adaptive spends ${ratio}x the floor's energy per delivered sample`);
  return `${lines.join('\n')}\n\n`;
}

function fail(message: string): never {
  return exitUsage('bench', message);
}

function options() {
  return parseOptions('bench', {
    seed: { type: 'string', default: '1' },
    days: { type: 'string', default: '7' },
    fleet: { type: 'string', default: '1000' },
    only: { type: 'string', default: 'policies,engine,mqtt' },
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
  if (!/^\d+$/.test(args.seed!) || Number(args.seed) > 0xffffffff) fail(`--seed must be an integer from 0 to 4294967295, got "${args.seed}"`);
  if (!/^\d+$/.test(args.days!) || Number(args.days) < 1 || Number(args.days) > 60) fail(`--days must be an integer from 1 to 60, got "${args.days}"`);
  if (!/^\d+$/.test(args.fleet!) || Number(args.fleet) > 10000) fail(`--fleet must be an integer from 0 to 10000, got "${args.fleet}"`);
  const bench: BenchOptions = { seed: Number(args.seed), days: Number(args.days), fleet: Number(args.fleet) };
  const tty = process.stderr.isTTY;
  const started = performance.now();
  const progress = (line: string) => {
    if (tty) process.stderr.write(`\r\x1b[K[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);
  };
  const only = args.only!.split(',').map((p) => p.trim());
  const known = ['policies', ...SECTIONS.map((s) => s.name)];
  const unknown = only.filter((p) => !known.includes(p));
  if (unknown.length || only.length === 0) fail(`--only takes ${known.join(', ')}; got "${args.only}"`);
  const policies = only.includes('policies') ? await runPolicies({ ...bench, onProgress: progress }) : undefined;
  const results: { section: Section; rows: Row[] }[] = [];
  for (const section of SECTIONS.filter((s) => only.includes(s.name))) {
    progress(section.title);
    results.push({ section, rows: await section.run(bench) });
  }
  if (tty) process.stderr.write('\r\x1b[K');
  if (args.json) {
    const sections = Object.fromEntries(results.map(({ section, rows }) => [section.name, Object.fromEntries(rows.map((r) => [r.key, r.value]))]));
    const head = policies ? { rows: policies.rows, adaptive_to_floor: policies.adaptive_to_floor } : {};
    process.stdout.write(`${JSON.stringify({ seed: bench.seed, days: bench.days, fleet: bench.fleet, ...head, ...sections })}\n`);
  } else {
    if (policies) process.stdout.write(policyTable(policies.rows, policies.adaptive_to_floor));
    if (results.length) process.stdout.write(table(results));
  }
}

main().catch((error) => {
  process.stderr.write(`bench: internal error: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
