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
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildBundle, ROOT } from '../../test-sim/engine/bundle';
import { XsEngine } from '../../test-sim/engine/xs';
import { message, Op, withJson } from '../../hal/sim/wire';
import { PAYLOAD_BYTES, type BenchOp, type CodecBenchReport } from './apps/mqtt-codec';

const HELP = `Usage: npm run bench -- [options]

Measures the firmware in the real XS engine and prints one row per figure.
Every figure is deterministic: XS meter units and heap slots, not time.

Options:
  --seed N     seed of the generated inputs (default: 1)
  --json       print one JSON object as the last line: {"mqtt": {...}}
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

const SECTIONS: Section[] = [mqtt];

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function options() {
  try {
    return parseArgs({
      options: {
        seed: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message.split('\n')[0]} (see --help)`);
  }
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
  const bench: BenchOptions = { seed: Number(args.seed) };
  const results: { section: Section; rows: Row[] }[] = [];
  for (const section of SECTIONS) results.push({ section, rows: await section.run(bench) });
  if (args.json) {
    const json = Object.fromEntries(results.map(({ section, rows }) => [section.name, Object.fromEntries(rows.map((r) => [r.key, r.value]))]));
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } else {
    process.stdout.write(table(results));
  }
}

main().catch((error) => {
  process.stderr.write(`bench: internal error: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
