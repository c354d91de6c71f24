/**
 * Building with mcconfig and running in mcsim, for the tests that run the
 * Moddable build for real (headless under xvfb-run). Each test file builds
 * into its own directory under build/moddable-test/ (git-ignored), so test
 * files running side by side never share a build tree, and a rerun is
 * incremental.
 *
 * Needs $MODDABLE (the SDK with its Linux tools built), xvfb-run and stdbuf
 * without a display, and $FIELDLINK_MBEDTLS (Mbed TLS 4 source, built beside
 * the project; README "Mbed TLS for the Moddable simulator"). `skipReason()`
 * names what is missing in one line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { findMbedtls } from '../../../tools/moddable/mbedtls';

export const ROOT = resolve(import.meta.dirname, '../../..');
const MODDABLE = process.env.MODDABLE;
const HEADLESS = !process.env.DISPLAY;

/** Why the Moddable simulator tests cannot run here, or false. */
export function skipReason(): string | false {
  if (!MODDABLE) return 'MODDABLE is not set: build the Moddable SDK tools (documentation/Moddable SDK - Getting Started.md) and export MODDABLE to run this test';
  if (process.platform !== 'linux') return 'runs the Linux simulator (mcsim, -p lin) only';
  if (HEADLESS && spawnSync('sh', ['-c', 'command -v xvfb-run && command -v stdbuf'], { encoding: 'utf8' }).status !== 0) {
    return 'no display and no xvfb-run/stdbuf: apt-get install xvfb xauth';
  }
  const mbedtls = findMbedtls();
  if ('what' in mbedtls) return `${mbedtls.what}: ${mbedtls.todo}`;
  return false;
}

export interface BuildOptions {
  /** Manifest path relative to the repository root. */
  manifest: string;
  /** Directory name under build/moddable-test/. */
  name: string;
  /** The manifest's build NAME (where mcconfig puts mc.so). */
  appName: string;
  /** DER credentials directory (FIELDLINK_CREDENTIALS). */
  credentials: string;
  /** mcconfig config overrides. */
  config: Record<string, string | number>;
}

/** Runs mcconfig (debug build, -t build); returns mc.so or throws with the end of its output. */
export function buildForMcsim(options: BuildOptions): string {
  const moddable = MODDABLE as string;
  const bin = join(moddable, 'build', 'bin', 'lin', 'release');
  const outputDir = join(ROOT, 'build', 'moddable-test', options.name);
  mkdirSync(outputDir, { recursive: true });
  const args = ['-d', '-m', '-p', 'lin', '-t', 'build', '-o', outputDir, join(ROOT, options.manifest)];
  for (const [key, value] of Object.entries(options.config)) args.push(`${key}=${value}`);
  const result = spawnSync(join(bin, 'mcconfig'), args, {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      PATH: [join(ROOT, 'node_modules', '.bin'), bin, process.env.PATH ?? ''].join(delimiter),
      FIELDLINK_CREDENTIALS: options.credentials,
    },
  });
  const log = `${result.stdout}${result.stderr}`;
  if (result.status !== 0 || /typescript compile failure|error TS\d+|### error/i.test(log)) {
    throw new Error(`mcconfig ${options.manifest} failed (status ${result.status}):\n${log.slice(-4000)}`);
  }
  const artifact = join(outputDir, 'bin', 'lin', 'mc', 'debug', options.appName, 'mc.so');
  if (!existsSync(artifact)) throw new Error(`mcconfig reported success but wrote no ${artifact}`);
  return artifact;
}

/** mcconfig's merged manifest of a build (tmp/.../manifest_flat.json): what really went in. */
export function flatManifest(name: string, appName: string): { modules: Record<string, unknown>; preload: string[]; resources: Record<string, unknown> } {
  const path = join(ROOT, 'build', 'moddable-test', name, 'tmp', 'lin', 'mc', 'debug', appName, 'manifest_flat.json');
  return JSON.parse(readFileSync(path, 'utf8'));
}

export interface DeviceEvent {
  t?: number;
  event: string;
  fields?: Record<string, unknown>;
}

/** A running mcsim: what the device printed, parsed. */
export class Mcsim {
  readonly lines: string[] = [];
  private buffered = '';
  private readonly process: ChildProcess;

  constructor(artifact: string) {
    const mcsim = join(MODDABLE as string, 'build/bin/lin/release/mcsim');
    const [command, args] = HEADLESS ? ['xvfb-run', ['-a', 'stdbuf', '-oL', mcsim, artifact]] : ['stdbuf', ['-oL', mcsim, artifact]];
    this.process = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process.stdout?.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      const parts = this.buffered.split('\n');
      this.buffered = parts.pop() ?? '';
      this.lines.push(...parts);
    });
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Every JSON event line so far. */
  events(): DeviceEvent[] {
    const out: DeviceEvent[] = [];
    for (const line of this.lines) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as DeviceEvent);
      } catch {
        // a line cut by the process ending
      }
    }
    return out;
  }

  /** The device's output without the instrumentation lines, for assertion messages. */
  trace(): string {
    return this.lines.filter((l) => !l.startsWith('instruments')).join('\n');
  }

  /** Resolves once `done()` holds or mcsim exited; false after `timeoutMs`. */
  async waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (done()) return true;
      if (!this.running) return done();
      await new Promise((r) => setTimeout(r, 100));
    }
    return done();
  }

  stop(): void {
    if (this.process.pid && this.running) {
      try {
        process.kill(-this.process.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}
