#!/usr/bin/env node
// Runs a TypeScript entry point (`node tools/run.mjs test-sim/cli/main.ts [args]`) as one
// JavaScript file bundled by esbuild (npm packages stay external), cached in build/run/ with the
// list of files it was built from and rebuilt only when one of them changed. Loading one file
// takes a fraction of the CPU that loading every module through a TypeScript loader does, which
// matters for a command that is started often (npm start, npm run sim). The source stays the
// truth: tests and tools run the same modules through tsx.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(new URL('..', import.meta.url).pathname);
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node tools/run.mjs <entry.ts> [args...]\n');
  process.exit(2);
}
const source = resolve(root, entry);
const name = `${basename(entry, '.ts')}-${createHash('sha256').update(relative(root, source)).digest('hex').slice(0, 8)}`;
const dir = join(root, 'build', 'run');
const out = join(dir, `${name}.mjs`);
const manifestPath = join(dir, `${name}.files.json`);

/** Digest of the files a build read; undefined when one is gone. */
function digest(files) {
  const hash = createHash('sha256');
  for (const file of files) {
    if (!existsSync(file)) return undefined;
    hash.update(file).update(readFileSync(file));
  }
  return hash.digest('hex');
}

function fresh() {
  if (!existsSync(out) || !existsSync(manifestPath)) return false;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  return digest(manifest.files) === manifest.digest;
}

if (!fresh()) {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const files = Object.keys(result.metafile.inputs).map((f) => resolve(root, f)).sort();
  mkdirSync(dir, { recursive: true });
  // Several processes may build at once: write beside, then rename, so nobody reads half a file.
  const atomically = (target, text) => {
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, text);
    renameSync(temp, target);
  };
  atomically(out, result.outputFiles[0].text);
  atomically(manifestPath, JSON.stringify({ files, digest: digest(files) }));
}

process.argv = [process.argv[0], source, ...args];
await import(pathToFileURL(out).href);
