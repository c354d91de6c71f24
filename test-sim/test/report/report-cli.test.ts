import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const runner = join(root, 'tools/run.mjs');

/** The CLI, run from `cwd` (a fresh directory unless given). */
function sim(args: string[], cwd = mkdtempSync(join(tmpdir(), 'report-cli-'))) {
  const r = spawnSync(process.execPath, [runner, 'test-sim/cli/main.ts', ...args], { encoding: 'utf8', cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, cwd };
}

const run = ['--engine', 'node', '--scenario', 'broker-outage', '--duration', '2h'];

test('--report DIR writes report.html and report.json there and prints the path last', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'report-dir-')), 'nested', 'out');
  const r = sim([...run, '--report', dir]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[lines.length - 1], `report: ${join(dir, 'report.html')}`);
  assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /<svg\b/);
  const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  assert.equal(json.summary.scenario, 'broker-outage');
  assert.equal(json.summary.simulated_ms, 7_200_000);
  assert.deepEqual(readdirSync(r.cwd), [], 'nothing in the current directory');
});

test('by default the report goes to the current directory; with --json the JSON stays the last stdout line', () => {
  const r = sim([...run, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout is the JSON line only');
  const summary = JSON.parse(lines[0]);
  assert.equal(summary.scenario, 'broker-outage');
  assert.match(r.stderr, new RegExp(`^report: ${join(r.cwd, 'report.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.deepEqual(readdirSync(r.cwd).sort(), ['report.html', 'report.json']);
  assert.deepEqual(JSON.parse(readFileSync(join(r.cwd, 'report.json'), 'utf8')).summary.tls_failures, summary.tls_failures);
});

test('--no-report writes nothing and prints no path', () => {
  const r = sim([...run, '--no-report']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(r.cwd), []);
  assert.doesNotMatch(r.stdout + r.stderr, /report/);
});

test('report options that cannot work are one line and exit 2, before the run', () => {
  const both = sim([...run, '--report', 'x', '--no-report']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^sim: --report and --no-report do not go together\n$/);
  const cwd = mkdtempSync(join(tmpdir(), 'report-cli-'));
  writeFileSync(join(cwd, 'file'), '');
  const file = sim([...run, '--report', 'file/sub'], cwd);
  assert.equal(file.code, 2);
  assert.match(file.stderr, /^sim: --report file\/sub: .*file is a file; give a directory/);
  assert.ok(!existsSync(join(cwd, 'report.html')));
  const help = sim(['--help']);
  for (const option of ['--report DIR', '--no-report']) assert.ok(help.stdout.includes(option), option);
});
