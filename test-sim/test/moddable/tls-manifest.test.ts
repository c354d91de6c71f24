/**
 * Moddable's JavaScript TLS (securesocket over modules/crypt/ssl) is in no
 * build: its chain verification accepts a forged leaf followed by a real
 * intermediate (issue 11). Device TLS is hal/moddable/native/tls (Mbed TLS).
 * These checks need no SDK; tls-matrix.test.ts also reads what mcconfig
 * really merged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');

function files(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path, pattern));
    else if (pattern.test(entry.name)) out.push(path);
  }
  return out;
}

test('no manifest includes Moddable\'s JavaScript TLS', () => {
  const manifests = [...files(join(ROOT, 'manifests'), /\.json$/), ...files(join(ROOT, 'hal'), /\.json$/), ...files(join(ROOT, 'test-sim', 'apps'), /\.json$/)];
  assert.ok(manifests.length >= 8);
  for (const path of manifests) {
    const text = readFileSync(path, 'utf8');
    assert.doesNotMatch(text, /modules\/crypt\/tls|securesocket"|crypt\/ssl/, relative(ROOT, path));
  }
});

test('device TLS comes from the native Mbed TLS module, with the Amazon roots as resources', () => {
  const tls = JSON.parse(readFileSync(join(ROOT, 'manifests', 'tls.json'), 'utf8')) as { include: string[]; resources: Record<string, string[]> };
  assert.deepEqual(tls.include, ['../hal/moddable/native/tls-manifest.json']);
  assert.ok(tls.resources['*'].some((r) => r.endsWith('AmazonRootCA1.der')) && tls.resources['*'].some((r) => r.endsWith('AmazonRootCA3.der')));
});

test('no device code imports securesocket, ssl/* or Moddable\'s rng', () => {
  for (const path of [...files(join(ROOT, 'hal', 'moddable'), /\.ts$/), ...files(join(ROOT, 'firmware'), /\.ts$/)]) {
    assert.doesNotMatch(readFileSync(path, 'utf8'), /from '(securesocket|ssl\/[^']*|rng)'/, relative(ROOT, path));
  }
});
