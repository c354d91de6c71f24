import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

function bench(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/bench/main.ts', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastJson(stdout: string): Record<string, Record<string, number | null>> {
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const COMPUTE = ['encode_publish_200b_compute', 'decode_publish_200b_compute'];
const ALLOCATION = ['encode_publish_200b_heap_slots', 'decode_publish_200b_heap_slots'];
const SIZES = ['mqtt_code_bytes_min', 'mqtt_code_bytes_min_gzip'];

test('npm run bench -- --json prints the MQTT figures as one JSON object on the last line', () => {
  const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const json = lastJson(r.stdout);
  assert.deepEqual(Object.keys(json), ['mqtt']);
  assert.deepEqual(Object.keys(json.mqtt).sort(), [...COMPUTE, ...ALLOCATION, ...SIZES].sort());
  for (const key of [...COMPUTE, ...SIZES]) {
    assert.ok(Number.isInteger(json.mqtt[key]) && json.mqtt[key]! > 0, `${key} = ${json.mqtt[key]}`);
  }
  for (const key of ALLOCATION) assert.ok(Number.isInteger(json.mqtt[key]) && json.mqtt[key]! >= 0, `${key} = ${json.mqtt[key]}`);
  assert.ok(json.mqtt.mqtt_code_bytes_min_gzip! < json.mqtt.mqtt_code_bytes_min!);
});

test('the bench is deterministic: two runs give the same figures', () => {
  const a = bench('--json', '--seed', '5');
  const b = bench('--json', '--seed', '5');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const [x, y] = [lastJson(a.stdout), lastJson(b.stdout)];
  for (const key of COMPUTE) assert.equal(x.mqtt[key], y.mqtt[key], key);
  assert.deepEqual(x, y);
});

test('the default output is a table with units', () => {
  const r = bench();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /encode, compute\s+[\d,]+\s+XS meter units\/op/);
  assert.match(r.stdout, /firmware\/mqtt minified\s+[\d,]+\s+bytes/);
});

test('--help documents every option', () => {
  const r = bench('--help');
  assert.equal(r.code, 0);
  for (const option of ['--json', '--seed', '--help']) assert.match(r.stdout, new RegExp(option));
});

for (const args of [['--bogus'], ['--seed', 'x']]) {
  test(`${args.join(' ')} is one line on stderr and exit 2`, () => {
    const r = bench(...args);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
    assert.match(lines[0], /^bench: /);
    assert.equal(r.stdout, '');
  });
}
