#!/usr/bin/env node
// Runs every test-sim/test/**/*.test.ts with Node's test runner (TypeScript via tsx).
// Usage: node tools/run-tests.mjs [substring ...]   (only files whose path contains a substring)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(relative(root, path));
  }
})(join(root, 'test-sim', 'test'));

const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (chosen.length === 0) {
  console.error(`no test file matches ${filters.join(', ')}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...chosen], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
