import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const eslint = join(dirname(require.resolve('eslint/package.json')), 'bin/eslint.js');

function run(bin: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test('device code type-checks without Node typings (firmware/, hal/sim)', () => {
  const r = run(tsc, '-p', 'firmware/tsconfig.json');
  assert.equal(r.code, 0, r.output);
});

test('host code and tests type-check (strict)', () => {
  const r = run(tsc, '-p', 'tsconfig.json');
  assert.equal(r.code, 0, r.output);
});

test('lint: no Node globals, Node modules, Date.now or Math.random in device code', () => {
  const r = run(eslint, '.');
  assert.equal(r.code, 0, r.output);
});
