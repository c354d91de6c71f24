import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, UsageError } from '../../scenarios/scenario';

function sim(...args: string[]) {
  const r = spawnSync(process.execPath, ['tools/run.mjs', 'test-sim/cli/main.ts', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertUsageError(r: ReturnType<typeof sim>, pattern: RegExp) {
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('an unknown option is one line and exit 2', () => assertUsageError(sim('--warp'), /^sim: Unknown option '--warp'/));
test('a bad duration is one line and exit 2', () => assertUsageError(sim('--duration', '24x'), /--duration must look like/));
test('a bad engine is one line and exit 2', () => assertUsageError(sim('--engine', 'v8'), /--engine must be xs or node/));
test('a missing scenario is one line and exit 2', () => assertUsageError(sim('--scenario', 'no-such'), /scenario not found: no-such/));
test('a malformed scenario file is one line and exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
  const path = join(dir, 'bad.json');
  writeFileSync(path, JSON.stringify({ duration: 'forever' }));
  assertUsageError(sim('--scenario', path), /duration must be a duration/);
});

test('a time-skew fault without a signed skew is one line and exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
  const path = join(dir, 'skew.json');
  writeFileSync(path, JSON.stringify({ faults: [{ at: '1m', kind: 'time-skew', for: '1m', skew: '400d' }] }));
  assertUsageError(sim('--scenario', path), /faults\[0\]\.skew must be a signed duration like "\+3650d" or "-400d", got "400d"/);
});

test('a scenario config the firmware would refuse is one line and exit 2, before any run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
  const write = (name: string, config: unknown) => {
    writeFileSync(join(dir, name), JSON.stringify({ duration: '90s', config }));
    return join(dir, name);
  };
  assertUsageError(sim('--scenario', write('port.json', { port: 'abc' })), /scenario .*port\.json: config\.port must be an integer from 1 to 65535, got "abc"/);
  // The CLI prints a scenario's UsageError as the line above; the other refusals are checked where the CLI gets them.
  const refused = (path: string, message: RegExp) => assert.throws(() => loadScenario(path), (e) => e instanceof UsageError && !e.message.includes('\n') && message.test(e.message));
  refused(write('backoff.json', { backoff: { baseMs: 5000, capMs: 1000 } }), /config\.backoff capMs \(1000\) must be at least baseMs \(5000\)/);
  refused(write('typo.json', { keepAlive: 60 }), /config\.keepAlive is not a device configuration key/);
  refused(write('thing.json', { thing: '$aws-thing' }), /config\.thing "\$aws-thing": client id may not start with "\$"/);
  refused(write('long.json', { thing: 'x'.repeat(129) }), /config\.thing "x+": client id is 129 bytes/);
});

test('--help documents every option', () => {
  const r = sim('--help');
  assert.equal(r.code, 0);
  for (const option of ['--engine', '--scenario', '--duration', '--seed', '--realtime', '--json']) assert.match(r.stdout, new RegExp(option));
});

test('--json prints one JSON object on the last line; a simulated day of timers runs in XS in seconds', () => {
  const r = sim('--engine', 'xs', '--scenario', 'idle-day', '--duration', '24h', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(summary.engine, 'xs');
  assert.equal(summary.simulated_ms, 86_400_000);
  assert.equal(typeof summary.wall_ms, 'number');
  assert.equal(typeof summary.events, 'number');
});
