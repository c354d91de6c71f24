/**
 * One source of truth each: the firmware's config defaults (firmware/app/config.ts
 * DEFAULTS) and what manifests/app.json gives mcconfig; the log event names the
 * firmware emits and hal/events.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, DEFAULTS, resolveConfig } from '../../../firmware/app/config';
import { EVENTS } from '../../../hal/events';

const root = new URL('../../../', import.meta.url).pathname;

test('every config value in manifests/app.json is a firmware key with the firmware default', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'manifests/app.json'), 'utf8')) as { config: Record<string, unknown> };
  for (const [key, value] of Object.entries(manifest.config)) {
    assert.ok(CONFIG_KEYS.includes(key), `app.json config.${key} is not a firmware config key`);
    assert.deepEqual(value, (DEFAULTS as Record<string, unknown>)[key], `app.json config.${key} differs from firmware DEFAULTS`);
  }
  const resolved = resolveConfig({}) as unknown as Record<string, unknown>;
  for (const key of CONFIG_KEYS) assert.ok(key in resolved, `${key} is resolved`);
});

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('every log event the firmware and the HALs emit is named in hal/events.ts', () => {
  const names = new Set<string>(Object.values(EVENTS));
  const emitted = new Set<string>();
  for (const path of [...files(join(root, 'firmware')), ...files(join(root, 'hal'))]) {
    for (const m of readFileSync(path, 'utf8').matchAll(/\.event\(\s*'([a-z0-9.-]+)'/g)) emitted.add(m[1]);
  }
  assert.ok(emitted.size > 20, `${emitted.size} event names found`);
  assert.deepEqual([...emitted].filter((e) => !names.has(e)), []);
});
