/**
 * `npm run bench`: the accounting holds (samples and energy add up, the lower
 * bound is below every row for every seed), every row says what it re-creates
 * and where its configuration comes from, the output has the documented shape,
 * and the same seed gives the same figures. Who wins is never asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROWS } from '../../../tools/bench/rows';

function bench(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/bench/main.ts', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastJson(stdout: string): any {
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const COMPUTE = ['encode_publish_200b_compute', 'decode_publish_200b_compute'];
const ALLOCATION = ['encode_publish_200b_heap_slots', 'decode_publish_200b_heap_slots'];
const SIZES = ['mqtt_code_bytes_min', 'mqtt_code_bytes_min_gzip'];
const METRICS = [
  'energy_per_delivered_sample_mj', 'avg_ma', 'battery_days', 'latency_p50_s', 'latency_p95_s', 'latency_max_s', 'peak_ma',
  'bytes_on_air_per_day', 'aws_messages_per_day', 'samples_generated', 'samples_delivered', 'samples_lost', 'samples_dropped', 'samples_pending',
];

/** Every row over seeds 1 and 2 for a day, with bench.html written: run once, read by the first two tests. */
const HTML = `${process.env.TMPDIR ?? '/tmp'}/fieldlink-bench-${process.pid}.html`;
let everyRow: ReturnType<typeof bench> | undefined;
const policies = () => (everyRow ??= bench('--json', '--only', 'policies', '--days', '1', '--seeds', '2', '--no-sweep', '--html', HTML, '--jobs', '2'));

/** The JSON of the one-row run, for the human-output test. */
let oneRowJson: any;
/** One row, seed 2, with the mqtt section: as JSON and as the human tables. */
const ONE_ROW = ['--only', 'policies,mqtt', '--days', '1', '--seed', '2', '--rows', 'esp-mqtt', '--no-sweep', '--html', '-', '--jobs', '1'];

test('policies: every row over every seed; samples and energy add up; the lower bound is below every row for every seed', () => {
  const r = policies();
  assert.equal(r.code, 0, r.stderr);
  const json = lastJson(r.stdout);
  for (const key of ['rows', 'lower_bound', 'seeds', 'sweep']) assert.ok(key in json, key);
  assert.deepEqual(json.rows.map((row: { policy: string }) => row.policy), ROWS.map((row) => row.name));
  for (const row of json.rows) {
    assert.ok(row.recreates.length > 20, `${row.policy} says what it re-creates`);
    assert.ok(row.sources.length > 0, `${row.policy} cites its configuration`);
    for (const key of METRICS) {
      for (const stat of ['min', 'median', 'max']) assert.ok(stat in row.metrics[key], `${row.policy}.${key}.${stat}`);
    }
    if (row.status === null) assert.ok(row.metrics.energy_per_delivered_sample_mj.median > 0, row.policy);
    else assert.match(row.status, /stops delivering/);
    assert.ok(row.bands.optimistic.avg_ma.median <= row.metrics.avg_ma.median, `${row.policy}: optimistic band below typical`);
    assert.ok(row.bands.pessimistic.avg_ma.median >= row.metrics.avg_ma.median, `${row.policy}: pessimistic band above typical`);
  }
  assert.deepEqual(json.seeds.map((s: { seed: number }) => s.seed), [1, 2]);
  for (const seed of json.seeds) {
    assert.equal(seed.rows.length, ROWS.length);
    const bound = seed.lower_bound.energy_per_delivered_sample_mj;
    for (const { policy, metrics: m, energy_by_category_mj: parts } of seed.rows) {
      const where = `seed ${seed.seed}, ${policy}`;
      assert.equal(m.samples_delivered + m.samples_lost + m.samples_dropped + m.samples_pending, m.samples_generated, `${where}: samples add up`);
      const sum = Object.values(parts as Record<string, number>).reduce((t, v) => t + v, 0);
      assert.ok(Math.abs(sum - m.energy_mj) <= 0.1 * Object.keys(parts).length, `${where}: energy parts ${sum} vs total ${m.energy_mj}`);
      if (m.samples_delivered > 0) {
        assert.ok(bound < m.energy_mj / m.samples_delivered, `${where}: lower bound ${bound} below ${m.energy_mj / m.samples_delivered}`);
      }
      assert.ok(m.peak_ma >= m.avg_ma, where);
    }
  }
});

test('bench.html is written beside the JSON, with the table, every row and the lower bound', () => {
  assert.equal(policies().code, 0);
  const html = readFileSync(HTML, 'utf8');
  assert.match(html, /<table>/);
  assert.match(html, /lower_bound/);
  for (const row of ROWS) assert.match(html, new RegExp(row.name));
});

test('the same seed gives the same figures, whatever rows, seeds and jobs run beside it; mqtt: codec figures as JSON', () => {
  const all = lastJson(policies().stdout);
  const r = bench('--json', ...ONE_ROW);
  assert.equal(r.code, 0, r.stderr);
  const json = lastJson(r.stdout);
  const seed2 = all.seeds.find((s: { seed: number }) => s.seed === 2);
  assert.deepEqual(json.seeds.map((s: { seed: number }) => s.seed), [2]);
  assert.deepEqual(json.seeds[0].rows, seed2.rows.filter((row: { policy: string }) => row.policy === 'esp-mqtt'));
  assert.deepEqual(json.seeds[0].lower_bound, seed2.lower_bound);
  assert.deepEqual(Object.keys(json.mqtt).sort(), [...COMPUTE, ...ALLOCATION, ...SIZES].sort());
  for (const key of [...COMPUTE, ...SIZES]) assert.ok(Number.isInteger(json.mqtt[key]) && json.mqtt[key] > 0, `${key} = ${json.mqtt[key]}`);
  for (const key of ALLOCATION) assert.ok(Number.isInteger(json.mqtt[key]) && json.mqtt[key] >= 0, `${key} = ${json.mqtt[key]}`);
  assert.ok(json.mqtt.mqtt_code_bytes_min_gzip < json.mqtt.mqtt_code_bytes_min);
  oneRowJson = json;
});

test('the human output: the policy table and the codec table with units, the same figures as the JSON run', () => {
  const r = bench(...ONE_ROW);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^esp-mqtt\s+[\d,.]+/m);
  assert.match(r.stdout, /^lower_bound\s+/m);
  assert.match(r.stdout, /encode, compute\s+[\d,]+\s+XS meter units\/op/);
  assert.match(r.stdout, /firmware\/mqtt minified\s+[\d,]+\s+bytes/);
  assert.ok(oneRowJson, 'the JSON run above');
  // The XS meter counts the same work in another process: the codec figures are deterministic.
  const figure = (label: string) => Number(r.stdout.match(new RegExp(`${label}\\s+([\\d,]+)`))![1].replace(/,/g, ''));
  assert.equal(figure('encode, compute'), oneRowJson.mqtt.encode_publish_200b_compute);
  assert.equal(figure('decode, compute'), oneRowJson.mqtt.decode_publish_200b_compute);
  assert.equal(figure('firmware/mqtt minified'), oneRowJson.mqtt.mqtt_code_bytes_min);
});

test('--help documents every option', () => {
  const r = bench('--help');
  assert.equal(r.code, 0);
  for (const option of ['--json', '--seed', '--seeds', '--days', '--sweep-days', '--no-sweep', '--jobs', '--rows', '--only', '--html', '--help']) {
    assert.match(r.stdout, new RegExp(`${option}\\b`));
  }
});

for (const args of [['--bogus'], ['--seed', 'x'], ['--only', 'speed'], ['--days', '0'], ['--seeds', '0'], ['--rows', 'nobody'], ['--jobs', '99']]) {
  test(`${args.join(' ')} is one line on stderr and exit 2`, () => {
    const r = bench(...args);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
    assert.match(lines[0], /^bench: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}
