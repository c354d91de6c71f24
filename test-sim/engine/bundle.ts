/**
 * Bundles a firmware app with the simulator HAL into one script for the XS
 * worker (rollup + esbuild's TypeScript transform). Bundles are cached under
 * build/bundles by a hash of the sources they read, so a run only rebuilds
 * after an edit.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { rollup, type Plugin } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);

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

function sourcesHash(app: string, extra: string): string {
  const hash = createHash('sha256').update(extra);
  for (const dir of new Set(['firmware', 'hal/sim', 'hal/types.ts', dirname(app)])) {
    const walk = (path: string): void => {
      const stat = statSync(path);
      if (stat.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name));
      else if (path.endsWith('.ts')) hash.update(path).update(readFileSync(path));
    };
    walk(join(ROOT, dir));
  }
  return hash.digest('hex').slice(0, 16);
}

const ENTRY = '\0firmware-entry';

export async function buildBundle(options: BundleOptions = {}): Promise<Bundle> {
  const app = options.app ?? 'firmware/app/main.ts';
  const exportName = options.exportName ?? 'main';
  const minify = options.minify ?? false;
  const key = sourcesHash(app, `${app}#${exportName}#${minify}`);
  const outDir = join(ROOT, 'build', 'bundles');
  const path = join(outDir, `${key}.js`);
  if (existsSync(path)) {
    const code = readFileSync(path, 'utf8');
    return { code, path, bytes: Buffer.byteLength(code) };
  }
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
    input: ENTRY,
    plugins: [entryPlugin, esbuild({ target: 'es2022', minify, legalComments: 'none', tsconfig: join(ROOT, 'firmware/tsconfig.json') })],
    onwarn(warning, warn) {
      if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning);
    },
  });
  const { output } = await build.generate({ format: 'iife', name: 'firmware', strict: true });
  await build.close();
  const code = output[0].code;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path, code);
  return { code, path: relative(process.cwd(), path), bytes: Buffer.byteLength(code) };
}
