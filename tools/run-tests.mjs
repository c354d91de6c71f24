#!/usr/bin/env node
// Runs every test-sim/test/**/*.test.ts with Node's test runner.
// Usage: node tools/run-tests.mjs [--test-OPTION ...] [substring ...]
//   substrings: only files whose path contains one; --test-* options (e.g. --test-reporter=spec) go to node --test.
//
// Each test file is first bundled by esbuild (npm packages stay external) into build/tests/<pid>/, with
// import.meta.url, .dirname and .filename of every module replaced by its source file's, so every path a
// module computes from its own location is the one it computes from the source tree. Loading one bundled
// file costs a fraction of the CPU that loading every module through tsx does (measured: about 1 s less
// per test file), and there is one process per test file. The tests run the same source; child processes
// they start (CLIs, bench workers) run the TypeScript through tsx as users do.
// FIELDLINK_TEST_TSX=1 runs the test files through tsx instead (stack traces then point at the source).
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(relative(root, path));
  }
})(join(root, 'test-sim', 'test'));

const args = process.argv.slice(2);
const testOptions = args.filter((a) => a.startsWith('--test-'));
const filters = args.filter((a) => !a.startsWith('--test-'));
const chosen = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (chosen.length === 0) {
  console.error(`no test file matches ${filters.join(', ')}`);
  process.exit(2);
}

function run(nodeArgs) {
  const result = spawnSync(process.execPath, nodeArgs, { cwd: root, stdio: 'inherit' });
  return result.status ?? 1;
}

if (process.env.FIELDLINK_TEST_TSX === '1') {
  process.exit(run(['--import', 'tsx', '--test', '--test-concurrency=2', ...testOptions, ...chosen]));
}

/** Every module keeps its source location: import.meta.* become the source file's values. */
const sourceLocation = {
  name: 'source-location',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      if (contents.includes('import.meta')) {
        contents = contents
          .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
          .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
          .replaceAll('import.meta.filename', JSON.stringify(args.path));
      }
      return { contents, loader: 'ts' };
    });
  },
};

const out = join(root, 'build', 'tests', String(process.pid));
mkdirSync(out, { recursive: true });
let status = 1;
try {
  const { build } = await import('esbuild');
  await build({
    entryPoints: chosen.map((f) => join(root, f)),
    outbase: root,
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    plugins: [sourceLocation],
    logLevel: 'warning',
  });
  status = run(['--test', '--test-concurrency=2', ...testOptions, ...chosen.map((f) => join(out, f.replace(/\.ts$/, '.mjs')))]);
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(status);
