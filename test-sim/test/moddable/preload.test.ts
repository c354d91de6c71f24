/**
 * Every firmware TypeScript module is preloaded by name. Moddable 8.2.3's
 * mcconfig matches a wildcard preload entry ("firmware/app/*") against
 * JavaScript files only (tools/mcconfig.js, filterPreload: the `*` branch walks
 * `this.jsFiles`; only an exact name also walks `this.tsFiles`), so a wildcard
 * silently leaves TypeScript modules to load at run time: their functions,
 * closures and tables then live in the XS heap (RAM) instead of flash. Measured
 * in mcsim: 19 modules loaded at run time held 1,815 slots before main ran
 * (README, "Memory"). No Moddable SDK needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');
/** The entry (creation.main): not preloaded, it assigns globals at run time. */
const RUN_TIME = new Set(['hal/moddable/main']);

interface Manifest {
  modules?: Record<string, unknown>;
  preload?: string[];
  platforms?: Record<string, Manifest>;
}

function manifests(): Array<{ path: string; manifest: Manifest }> {
  const paths = [
    ...readdirSync(join(ROOT, 'manifests')).filter((f) => f.endsWith('.json')).map((f) => join(ROOT, 'manifests', f)),
    join(ROOT, 'hal', 'moddable', 'native', 'manifest.json'),
  ];
  return paths.map((path) => ({ path, manifest: JSON.parse(readFileSync(path, 'utf8')) as Manifest }));
}

/** The manifest and each of its platform sections. */
function sections(manifest: Manifest): Manifest[] {
  return [manifest, ...Object.values(manifest.platforms ?? {})];
}

test('every firmware TypeScript module is preloaded by its exact name (mcconfig wildcards match .js only)', () => {
  const preloaded = new Set<string>();
  const wildcards: string[] = [];
  const modules: Array<{ name: string; from: string }> = [];
  for (const { path, manifest } of manifests()) {
    for (const section of sections(manifest)) {
      for (const entry of section.preload ?? []) {
        preloaded.add(entry);
        if (entry.includes('*')) wildcards.push(entry);
      }
      for (const [name, target] of Object.entries(section.modules ?? {})) {
        if (!name.endsWith('/*') || typeof target !== 'string' || target.startsWith('$(')) continue;
        const dir = resolve(dirname(path), target.slice(0, -2));
        for (const file of readdirSync(dir)) {
          if (file.endsWith('.ts') && !file.endsWith('.d.ts')) modules.push({ name: `${name.slice(0, -1)}${file.slice(0, -3)}`, from: path });
        }
      }
    }
  }
  assert.ok(modules.length > 20, `found ${modules.length} TypeScript modules under wildcard module entries`);
  const missing = modules.filter((m) => !preloaded.has(m.name) && !RUN_TIME.has(m.name)).map((m) => `${m.name} (${m.from.slice(ROOT.length + 1)})`);
  assert.deepEqual(missing, [], 'add these to the manifest\'s preload list by name');
  for (const pattern of wildcards) {
    const prefix = pattern.slice(0, pattern.indexOf('*'));
    assert.ok(!modules.some((m) => m.name.startsWith(prefix)), `preload "${pattern}" covers TypeScript modules, which mcconfig's wildcard never matches: name them`);
  }
});
