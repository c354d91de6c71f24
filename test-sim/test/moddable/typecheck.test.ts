/**
 * hal/moddable and firmware/ type-check the way mcconfig compiles them (module
 * preserve, target and lib es2025, TypeScript 6), against npm @moddable/typings,
 * so a wrong Moddable API call fails `npm test` without the SDK.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const ROOT = resolve(import.meta.dirname, '../../..');
const TSCONFIG = join(ROOT, 'hal/moddable/tsconfig.json');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test('hal/moddable and firmware/ type-check against @moddable/typings with mcconfig\'s settings', () => {
  // tsc's incremental build info (build/cache/) lets a later run re-check only what changed, with the same verdict.
  const r = run('-p', TSCONFIG, '--incremental', '--tsBuildInfoFile', join(ROOT, 'build/cache/tsc-moddable.tsbuildinfo'));
  assert.equal(r.code, 0, r.output);
});

test('the settings are the ones mcconfig generates (tools/mcmanifest.js TSConfigFile)', () => {
  const json = JSON.parse(readFileSync(TSCONFIG, 'utf8')) as { compilerOptions: Record<string, unknown> };
  assert.equal(json.compilerOptions.module, 'preserve');
  assert.equal(json.compilerOptions.target, 'es2025');
  assert.deepEqual(json.compilerOptions.lib, ['es2025']);
  const version = (require('typescript/package.json') as { version: string }).version;
  assert.ok(Number(version.split('.')[0]) >= 6, `es2025 needs TypeScript 6 or newer, found ${version}`);
});

test('a wrong Moddable API call is a type error (the check is not vacuous)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldlink-typecheck-'));
  try {
    writeFileSync(join(dir, 'wrong.ts'), "import SNTP from 'sntp';\nnew SNTP({ hots: 'pool.ntp.org' }, () => {});\n");
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: TSCONFIG, include: [join(dir, 'wrong.ts')] }));
    const r = run('-p', join(dir, 'tsconfig.json'));
    assert.notEqual(r.code, 0);
    assert.match(r.output, /'hots' does not exist in type/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const MODDABLE = process.env.MODDABLE;
test(
  'hal/moddable also type-checks against the SDK\'s own typings in $MODDABLE (storage-esp32.ts included)',
  { skip: MODDABLE ? false : 'set MODDABLE to a Moddable SDK checkout to also check against its typings' },
  () => {
    const sdk = MODDABLE as string;
    const typings = ['Resource', 'file', 'flash', 'instrumentation', 'mc/config', 'net', 'sntp', 'socket', 'text/decoder', 'text/encoder', 'time', 'timer', 'wifi'];
    const dir = mkdtempSync(join(tmpdir(), 'fieldlink-typecheck-sdk-'));
    try {
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        extends: TSCONFIG,
        files: [join(sdk, 'xs/includes/xs.d.ts'), ...typings.map((name) => join(sdk, 'typings', `${name}.d.ts`))],
        include: [join(ROOT, 'hal/moddable/**/*.ts'), join(ROOT, 'firmware/**/*.ts')],
      }));
      const r = run('-p', join(dir, 'tsconfig.json'));
      assert.equal(r.code, 0, r.output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
