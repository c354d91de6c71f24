import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const eslint = join(dirname(require.resolve('eslint/package.json')), 'bin/eslint.js');

/**
 * tsc and ESLint keep what they learnt in build/cache/ (tsc's incremental build info, ESLint's cache keyed by
 * file content): a later run re-checks only what changed and what depends on it, with the same verdict.
 */
const CACHE = 'build/cache';

function run(bin: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test('device code type-checks without Node typings (firmware/, hal/sim)', () => {
  const r = run(tsc, '-p', 'firmware/tsconfig.json', '--incremental', '--tsBuildInfoFile', `${CACHE}/tsc-device.tsbuildinfo`);
  assert.equal(r.code, 0, r.output);
});

test('host code and tests type-check (strict)', () => {
  const r = run(tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', `${CACHE}/tsc-host.tsbuildinfo`);
  assert.equal(r.code, 0, r.output);
});

test('lint: no Node globals, Node modules, Date.now or Math.random in device code', () => {
  const r = run(eslint, '--cache', '--cache-strategy', 'content', '--cache-location', `${CACHE}/eslint`, '.');
  assert.equal(r.code, 0, r.output);
});
