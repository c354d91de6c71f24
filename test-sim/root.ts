/**
 * The repository's root directory: the nearest directory above this module
 * whose package.json is fieldlink's. Found by walking up, so it holds whether
 * this module runs from its source file or bundled elsewhere (tools/run.mjs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'fieldlink') return dir;
    if (dirname(dir) === dir) throw new Error(`fieldlink's package.json not found above ${from}`);
  }
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
