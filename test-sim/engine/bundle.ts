/**
 * Bundles a firmware app with the simulator HAL into one script for the XS
 * worker (rollup + esbuild's TypeScript transform). Bundles are cached under
 * build/bundles with the list of files the build read; a run rebuilds only when
 * one of those files changed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Plugin } from 'rollup';
import { ROOT } from '../root';

export { ROOT };

export interface BundleOptions {
  /** Module that exports the app, relative to the repository root. */
  app?: string;
  /** Export name of the app in that module. */
  exportName?: string;
  minify?: boolean;
}

export interface Bundle {
  code: string;
  path: string;
  bytes: number;
}

/** Digest of the files a previous build read; the cache is valid while none of them changed. */
function digest(files: readonly string[]): string | undefined {
  const hash = createHash('sha256');
  for (const file of files) {
    if (!existsSync(file)) return undefined;
    hash.update(file).update(readFileSync(file));
  }
  return hash.digest('hex');
}

const ENTRY = '\0firmware-entry';

export async function buildBundle(options: BundleOptions = {}): Promise<Bundle> {
  const app = options.app ?? 'firmware/app/main.ts';
  const exportName = options.exportName ?? 'main';
  const minify = options.minify ?? false;
  const key = createHash('sha256').update(`${app}#${exportName}#${minify}`).digest('hex').slice(0, 16);
  const outDir = join(ROOT, 'build', 'bundles');
  const path = join(outDir, `${key}.js`);
  const manifestPath = join(outDir, `${key}.files.json`);
  if (existsSync(path) && existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: string[]; digest: string };
    if (digest(manifest.files) === manifest.digest) {
      const code = readFileSync(path, 'utf8');
      return { code, path: relative(process.cwd(), path), bytes: Buffer.byteLength(code) };
    }
  }
  // Loaded only when a bundle must be built: most runs find it cached.
  const [{ rollup }, { default: esbuild }] = await Promise.all([import('rollup'), import('rollup-plugin-esbuild')]);
  const entryPlugin: Plugin = {
    name: 'firmware-entry',
    resolveId: (id) => (id === ENTRY ? ENTRY : null),
    load: (id) =>
      id === ENTRY
        ? `import { installXsDevice } from ${JSON.stringify(join(ROOT, 'hal/sim/xs-entry.ts'))};\n` +
          `import { ${exportName} as app } from ${JSON.stringify(join(ROOT, app))};\n` +
          `installXsDevice(app);\n`
        : null,
  };
  const build = await rollup({
    cache: false,
    input: ENTRY,
    plugins: [entryPlugin, esbuild({ target: 'es2022', minify, legalComments: 'none', tsconfig: join(ROOT, 'firmware/tsconfig.json') })],
    onwarn(warning, warn) {
      if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning);
    },
  });
  const { output } = await build.generate({ format: 'iife', name: 'firmware', strict: true });
  const code = output[0].code;
  const files = build.watchFiles.filter((f) => !f.startsWith('\0')).sort();
  mkdirSync(outDir, { recursive: true });
  // Test files run in parallel processes: write then rename, so a reader never sees half a file.
  const atomically = (target: string, text: string) => {
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, text);
    renameSync(temp, target);
  };
  atomically(path, code);
  atomically(manifestPath, JSON.stringify({ files, digest: digest(files) }));
  await build.close();
  return { code, path: relative(process.cwd(), path), bytes: Buffer.byteLength(code) };
}
