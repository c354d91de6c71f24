import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

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
const METRICS = ['energy_per_delivered_sample_mj', 'avg_ma', 'battery_days', 'handshakes_per_day', 'bytes_per_day', 'samples_lost', 'fleet_peak_connects_per_s'];

test('policies: one row per policy with the metrics; adaptive delivers every sample at the lowest energy per delivered sample; reproducible with --seed', () => {
  const args = ['--json', '--only', 'policies', '--days', '1', '--fleet', '30', '--seed', '4'];
  const a = bench(...args);
  assert.equal(a.code, 0, a.stderr);
  const json = lastJson(a.stdout);
  const names = json.rows.map((r: { policy: string }) => r.policy);
  assert.deepEqual(names, ['adaptive', 'moddable-mqtt-aws', 'esp-mqtt', 'coremqtt-demo', 'naive-duty', 'floor']);
  for (const row of json.rows) for (const key of METRICS) assert.ok(key in row, `${row.policy}.${key}`);
  const adaptive = json.rows[0];
  assert.equal(adaptive.samples_lost, 0);
  for (const row of json.rows.slice(1, -1)) {
    assert.ok(adaptive.energy_per_delivered_sample_mj < row.energy_per_delivered_sample_mj, `adaptive beats ${row.policy}`);
  }
  assert.ok(json.adaptive_to_floor >= 1, 'nothing beats the floor');
  const b = bench(...args);
  assert.deepEqual(lastJson(b.stdout), json, 'the same seed gives the same figures');
});

test('mqtt: codec figures as one JSON object on the last line, deterministic', () => {
  const a = bench('--json', '--only', 'mqtt', '--seed', '5');
  const b = bench('--json', '--only', 'mqtt', '--seed', '5');
  assert.equal(a.code, 0, a.stderr);
  const [x, y] = [lastJson(a.stdout), lastJson(b.stdout)];
  assert.deepEqual(Object.keys(x.mqtt).sort(), [...COMPUTE, ...ALLOCATION, ...SIZES].sort());
  for (const key of [...COMPUTE, ...SIZES]) assert.ok(Number.isInteger(x.mqtt[key]) && x.mqtt[key] > 0, `${key} = ${x.mqtt[key]}`);
  for (const key of ALLOCATION) assert.ok(Number.isInteger(x.mqtt[key]) && x.mqtt[key] >= 0, `${key} = ${x.mqtt[key]}`);
  assert.ok(x.mqtt.mqtt_code_bytes_min_gzip < x.mqtt.mqtt_code_bytes_min);
  assert.deepEqual(x, y);
});

test('the human output is a table with units', () => {
  const r = bench('--only', 'mqtt');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /encode, compute\s+[\d,]+\s+XS meter units\/op/);
  assert.match(r.stdout, /firmware\/mqtt minified\s+[\d,]+\s+bytes/);
});

test('--help documents every option', () => {
  const r = bench('--help');
  assert.equal(r.code, 0);
  for (const option of ['--json', '--seed', '--days', '--fleet', '--only', '--help']) assert.match(r.stdout, new RegExp(option));
});

for (const args of [['--bogus'], ['--seed', 'x'], ['--only', 'speed'], ['--days', '0']]) {
  test(`${args.join(' ')} is one line on stderr and exit 2`, () => {
    const r = bench(...args);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
    assert.match(lines[0], /^bench: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}
