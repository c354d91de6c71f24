/**
 * Builds the firmware with the Moddable SDK's `mcconfig`.
 *
 *   npm run build:sim   -- [key=value ...] [--local] [--credentials DIR] [--release] [--run]
 *   npm run build:esp32 -- [key=value ...] [--target NAME] [--credentials DIR] [--debug]
 *   npm run flash:esp32 -- ssid=NAME password=SECRET [key=value ...] [--target NAME] [--credentials DIR] [--debug]
 *
 * What it does: checks the SDK ($MODDABLE, and $IDF_PATH for ESP32), the
 * target (a directory of $MODDABLE/build/devices/esp32/targets), the config
 * keys (only those the firmware reads) and the credentials; puts
 * node_modules/.bin first on PATH (mcconfig runs `tsc`, which must be
 * TypeScript 6 for its es2025 settings); for ESP32 writes the sdkconfig layer
 * (tools/moddable/sdkconfig.ts: the board's own, then fieldlink's for the keys
 * the board leaves alone) and names it in SDKCONFIGPATH; passes `key=value` as
 * mcconfig config overrides (after defaults from credentials/config.json); runs
 * mcconfig on manifests/simulator.json or manifests/esp32.json with output in
 * build/moddable, and prints the path of what it built. ESP32 builds are
 * release builds (the task watchdog armed, no xsbug, no instrumentation timer)
 * unless --debug; simulator builds are debug builds unless --release.
 *
 * Every user mistake or missing prerequisite is one line on stderr,
 * `build: <what is wrong> — <what to do>`, with exit status 2.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join, relative, resolve } from 'node:path';
import { firmwareConfigSources } from '../../hal/moddable/config';
import { DEFAULT_DEV_PKI_DIR, DEFAULT_ENDPOINT_NAME, AWS_MQTT_ALPN } from '../provision/defaults';
import { composeLayer, listTargets, readTarget, type BoardTarget } from './sdkconfig';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const GETTING_STARTED =
  'documentation/Moddable SDK - Getting Started.md in the Moddable SDK (github.com/Moddable-OpenSource/moddable)';
const ESP32_GUIDE = 'documentation/devices/esp32.md in the Moddable SDK';
const CREDENTIAL_FILES = ['ca.der', 'device.der', 'device.key.der'] as const;
/** Port `npm run endpoint` listens on (test-sim/endpoint/main.ts). */
const LOCAL_ENDPOINT_PORT = 8443;

/** Wi-Fi keys mcconfig's own modules read (mc/config ssid, password). */
const WIFI_KEYS = Object.freeze(['ssid', 'password']);

export type Mode = 'sim' | 'esp32' | 'flash-esp32';

const HELP: Record<Mode, string> = {
  'sim': `usage: npm run build:sim -- [key=value ...] [options]

Builds manifests/simulator.json for the Moddable simulator (mcconfig -d -m -p ${hostPlatform()}),
a debug build unless --release. key=value pairs override the manifests' config
(${userKeys().join(', ')});
defaults come from <credentials>/config.json. Any other key is refused.

  --local            point at the local endpoint (npm run endpoint): endpoint=127.0.0.1
                     port=${LOCAL_ENDPOINT_PORT} serverName=<its name> alpn=${AWS_MQTT_ALPN}, credentials ${DEFAULT_DEV_PKI_DIR}
  --credentials DIR  ca.der, device.der, device.key.der (default credentials/)
  --release          release build (no debugger support)
  --run              start the simulator (mcsim) on the result
  -h, --help         this text
`,
  'esp32': `usage: npm run build:esp32 -- [key=value ...] [options]

Builds manifests/esp32.json for an ESP32 board (mcconfig -m -p esp32[/NAME] -t build),
a release build unless --debug. Needs ESP-IDF 6.0 ($IDF_PATH). Wi-Fi: ssid=NAME password=SECRET.
key=value pairs override the manifests' config (${userKeys().join(', ')}).

  --target NAME      a target of the Moddable SDK ($MODDABLE/build/devices/esp32/targets):
                     esp32c3, esp32s3, or a board such as m5stack_core2; default: esp32
  --credentials DIR  ca.der, device.der, device.key.der (default credentials/)
  --debug            debug build (xsbug over the serial port, instrumentation, no watchdog)
  -h, --help         this text
`,
  'flash-esp32': `usage: npm run flash:esp32 -- ssid=NAME password=SECRET [key=value ...] [options]

Builds manifests/esp32.json and flashes the board on $UPLOAD_PORT (mcconfig -m -p esp32[/NAME]),
a release build unless --debug (which then waits for xsbug). Needs ESP-IDF 6.0 ($IDF_PATH).

  --target NAME      a target of the Moddable SDK ($MODDABLE/build/devices/esp32/targets):
                     esp32c3, esp32s3, or a board such as m5stack_core2; default: esp32
  --credentials DIR  ca.der, device.der, device.key.der (default credentials/)
  --debug            debug build (xsbug over the serial port, instrumentation, no watchdog)
  -h, --help         this text
`,
};

export class BuildError extends Error {
  constructor(readonly what: string, readonly todo: string) {
    super(`${what} — ${todo}`);
    this.name = 'BuildError';
  }
}

export interface BuildPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Where mcconfig writes its output. */
  outputDir: string;
  /** The file the build produces (mc.so for the simulator, xs_esp32.bin for a board). */
  artifact: string;
  /** mcsim, for --run. */
  simulator?: string;
  /** ESP32: the board target and the sdkconfig keys it keeps from its own layer. */
  board?: BoardTarget;
  keptFromBoard?: string[];
}

function hostPlatform(): 'lin' | 'mac' | 'win' {
  return process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : 'lin';
}

interface Parsed {
  overrides: Map<string, string>;
  local: boolean;
  credentials?: string;
  /** Undefined: the mode's default (simulator debug, ESP32 release). */
  release?: boolean;
  run: boolean;
  target?: string;
  help: boolean;
}

/**
 * The config keys a user may set with key=value: those firmware reads as a
 * plain value (hal/moddable/config.ts), under their mc/config names, and Wi-Fi.
 */
export function userKeys(): string[] {
  return [...firmwareConfigSources(), ...WIFI_KEYS];
}

function parse(mode: Mode, argv: string[]): Parsed {
  const out: Parsed = { overrides: new Map(), local: false, run: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BuildError(`${arg} needs a value`, `see npm run ${script(mode)} -- --help`);
      return v;
    };
    if (arg === '-h' || arg === '--help') out.help = true;
    else if (arg === '--release') out.release = true;
    else if (arg === '--debug') out.release = false;
    else if (arg === '--credentials') out.credentials = value();
    else if (arg === '--local' && mode === 'sim') out.local = true;
    else if (arg === '--run' && mode === 'sim') out.run = true;
    else if (arg === '--target' && mode !== 'sim') out.target = value();
    else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg)) {
      const eq = arg.indexOf('=');
      const key = arg.slice(0, eq);
      if (!userKeys().includes(key)) {
        throw new BuildError(`unknown config key "${key}"`, `the keys are ${userKeys().join(', ')} (see npm run ${script(mode)} -- --help)`);
      }
      out.overrides.set(key, arg.slice(eq + 1));
    } else {
      throw new BuildError(`unknown argument "${arg}"`, `pass key=value config overrides or options from npm run ${script(mode)} -- --help`);
    }
  }
  return out;
}

function script(mode: Mode): string {
  return mode === 'sim' ? 'build:sim' : mode === 'esp32' ? 'build:esp32' : 'flash:esp32';
}

export interface PlanOptions {
  /** Where mcconfig writes (default build/moddable). */
  outputDir?: string;
  /** mcconfig without -m: generate the makefile, sdkconfig and partition table only. */
  generateOnly?: boolean;
}

/** Works out the mcconfig command line, or throws a BuildError saying what is missing. */
export function planBuild(mode: Mode, argv: string[], env: NodeJS.ProcessEnv = process.env, planOptions: PlanOptions = {}): BuildPlan | 'help' {
  const options = parse(mode, argv);
  if (options.help) return 'help';

  const moddable = env.MODDABLE;
  if (!moddable) {
    throw new BuildError('$MODDABLE is not set (the Moddable SDK)', `install and build the SDK, then export MODDABLE=<its directory>; setup guide: ${GETTING_STARTED}`);
  }
  if (!existsSync(moddable)) {
    throw new BuildError(`$MODDABLE is ${moddable}, which does not exist`, `point it at the Moddable SDK; setup guide: ${GETTING_STARTED}`);
  }
  const host = hostPlatform();
  const bin = join(moddable, 'build', 'bin', host, 'release');
  const mcconfig = join(bin, host === 'win' ? 'mcconfig.exe' : 'mcconfig');
  if (!existsSync(mcconfig)) {
    throw new BuildError(`the Moddable SDK tools are not built (no ${mcconfig})`, `build them as the setup guide says: ${GETTING_STARTED}`);
  }
  const isBoard = mode !== 'sim';
  let target: BoardTarget | undefined;
  if (isBoard) {
    target = readTarget(moddable, options.target);
    if (!target) {
      const known = listTargets(moddable);
      throw new BuildError(
        `unknown --target "${options.target}"`,
        `name a directory of ${join(moddable, 'build', 'devices', 'esp32', 'targets')}${known.length ? ` (${known.length} of them, e.g. ${known.filter((t) => /^esp32[cs]\d$/.test(t)).concat(known).slice(0, 4).join(', ')})` : ''}`,
      );
    }
    const idf = env.IDF_PATH;
    if (!idf || !existsSync(idf)) {
      throw new BuildError(
        idf ? `$IDF_PATH is ${idf}, which does not exist (the ESP-IDF)` : '$IDF_PATH is not set (ESP-IDF 6.0, needed for ESP32 builds)',
        `install ESP-IDF 6.0 and source its export.sh; setup guide: ${ESP32_GUIDE} (and ${GETTING_STARTED})`,
      );
    }
  }

  const credentials = resolve(ROOT, options.credentials ?? (options.local ? DEFAULT_DEV_PKI_DIR : 'credentials'));
  const missing = CREDENTIAL_FILES.filter((name) => !existsSync(join(credentials, name)));
  if (missing.length) {
    throw new BuildError(
      `no ${missing.join(', ')} in ${credentials.startsWith(ROOT) ? relative(ROOT, credentials) || '.' : credentials}`,
      options.local
        ? 'run npm run provision -- dev-pki (or npm run endpoint, which makes one)'
        : 'run npm run provision -- import --endpoint HOST --cert FILE --key FILE --ca FILE, or pass --credentials DIR (--local for the dev PKI)',
    );
  }

  // Config: credentials/config.json (written by provision import), then --local, then the command line.
  const config = new Map<string, string>();
  const configFile = join(credentials, 'config.json');
  if (existsSync(configFile)) {
    let saved: Record<string, unknown>;
    try {
      saved = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new BuildError(`${configFile} is not valid JSON`, 'run npm run provision -- import again, or delete it');
    }
    for (const key of ['endpoint', 'thing', 'port'] as const) {
      if (typeof saved[key] === 'string' || typeof saved[key] === 'number') config.set(key, String(saved[key]));
    }
  }
  if (options.local) {
    config.set('endpoint', '127.0.0.1');
    config.set('port', String(LOCAL_ENDPOINT_PORT));
    config.set('serverName', endpointNameOf(credentials));
    config.set('alpn', AWS_MQTT_ALPN);
  }
  // The chip's energy profile for the power policy, unless given.
  if (target && userKeys().includes('chip') && ['esp32', 'esp32s3', 'esp32c3'].includes(target.chip)) config.set('chip', target.chip);
  for (const [key, value] of options.overrides) config.set(key, value);
  if (mode === 'flash-esp32' && !config.get('ssid')) {
    throw new BuildError('no Wi-Fi network given', 'pass ssid=NAME password=SECRET (npm run flash:esp32 -- ssid=... password=...)');
  }

  const platform = target ? (options.target ? `esp32/${options.target}` : 'esp32') : host;
  const outputDir = planOptions.outputDir ?? join(ROOT, 'build', 'moddable');
  const release = options.release ?? isBoard;
  const kind = release ? 'release' : 'debug';
  const args = [...(release ? [] : ['-d']), ...(planOptions.generateOnly ? [] : ['-m']), '-p', platform];
  if (mode !== 'flash-esp32' && !planOptions.generateOnly) args.push('-t', 'build');
  args.push('-o', outputDir, join(ROOT, 'manifests', isBoard ? 'esp32.json' : 'simulator.json'));
  for (const [key, value] of config) args.push(`${key}=${value}`);

  const artifact = isBoard
    ? join(outputDir, 'bin', ...platform.split('/'), kind, 'fieldlink', 'xs_esp32.bin')
    : join(outputDir, 'bin', host, 'mc', kind, 'fieldlink', host === 'mac' ? 'mc.dylib' : host === 'win' ? 'mc.dll' : 'mc.so');

  const planEnv: NodeJS.ProcessEnv = {
    ...env,
    MODDABLE: moddable,
    PATH: [join(ROOT, 'node_modules', '.bin'), bin, env.PATH ?? ''].join(delimiter),
    FIELDLINK_CREDENTIALS: credentials,
  };
  delete planEnv.SDKCONFIGPATH;
  let keptFromBoard: string[] | undefined;
  if (target) {
    // The board's own sdkconfig layer, then fieldlink's (manifests/hal-moddable.json takes SDKCONFIGPATH from here).
    const layer = composeLayer(join(outputDir, 'sdkconfig', target.name), target, join(ROOT, 'manifests', 'esp32', 'sdkconfig'));
    planEnv.SDKCONFIGPATH = layer.directory;
    keptFromBoard = layer.keptFromBoard;
  }

  return {
    command: mcconfig,
    args,
    env: planEnv,
    outputDir,
    artifact,
    simulator: isBoard ? undefined : join(bin, host === 'win' ? 'mcsim.exe' : 'mcsim'),
    board: target,
    keptFromBoard,
  };
}

/** The endpoint name of a dev PKI (its leaf's CN), so --local matches a PKI made with --endpoint. */
function endpointNameOf(pkiDir: string): string {
  try {
    const chain = readFileSync(join(pkiDir, 'endpoint-chain.pem'), 'utf8');
    const cn = /^CN=(.*)$/m.exec(new X509Certificate(chain).subject)?.[1];
    if (cn) return cn;
  } catch {
    // not a dev PKI directory: the default name
  }
  return DEFAULT_ENDPOINT_NAME;
}

/**
 * mcconfig copies resources with make, which skips the copy when the copy is
 * newer than its source: switching --credentials to an older set would keep the
 * previous certificates. Removing the copies makes every build take them afresh.
 */
function forgetCopiedCredentials(outputDir: string): void {
  const tmp = join(outputDir, 'tmp');
  if (!existsSync(tmp)) return;
  const visit = (dir: string, depth: number): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name === 'fieldlink') {
        for (const name of CREDENTIAL_FILES) rmSync(join(path, 'resources', name), { force: true });
      } else if (depth < 6) {
        visit(path, depth + 1);
      }
    }
  };
  visit(tmp, 0);
}

/** Hides the Wi-Fi password when echoing the command line. */
function shown(args: string[]): string {
  return args.map((a) => (a.startsWith('password=') ? 'password=***' : /\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

function main(argv: string[]): number {
  const mode = argv[0] as Mode;
  if (!(mode in HELP)) {
    process.stderr.write(`build: unknown mode "${argv[0] ?? ''}" — use sim, esp32 or flash-esp32 (npm run build:sim, build:esp32, flash:esp32)\n`);
    return 2;
  }
  let plan: BuildPlan | 'help';
  try {
    plan = planBuild(mode, argv.slice(1));
  } catch (error) {
    if (error instanceof BuildError) {
      process.stderr.write(`build: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (plan === 'help') {
    process.stdout.write(HELP[mode]);
    return 0;
  }
  mkdirSync(plan.outputDir, { recursive: true });
  forgetCopiedCredentials(plan.outputDir);
  if (plan.keptFromBoard?.length) {
    process.stderr.write(`build: target ${plan.board?.name} sets ${plan.keptFromBoard.join(', ')} itself; its values stay\n`);
  }
  process.stderr.write(`build: mcconfig ${shown(plan.args)}\n`);
  const result = spawnSync(plan.command, plan.args, { cwd: ROOT, env: plan.env, stdio: 'inherit' });
  if (result.error) {
    process.stderr.write(`build: cannot run ${plan.command} (${result.error.message}) — check $MODDABLE; setup guide: ${GETTING_STARTED}\n`);
    return 2;
  }
  if (result.status !== 0) {
    process.stderr.write(`build: mcconfig failed with status ${result.status} — see its output above\n`);
    return result.status ?? 1;
  }
  if (mode === 'flash-esp32') {
    process.stdout.write(`flashed ${relative(ROOT, plan.artifact)}\n`);
    return 0;
  }
  if (!existsSync(plan.artifact)) {
    process.stderr.write(`build: mcconfig succeeded but ${plan.artifact} is missing — look under ${plan.outputDir}/bin\n`);
    return 1;
  }
  process.stdout.write(`built ${plan.artifact}\n`);
  if (mode === 'sim' && plan.simulator) {
    const linux = process.platform === 'linux';
    const headless = linux && !process.env.DISPLAY;
    // mcsim's stdout (the device's trace) is block-buffered into a pipe: line-buffer it.
    const lineBuffered = linux && spawnSync('sh', ['-c', 'command -v stdbuf'], { stdio: 'ignore' }).status === 0;
    const words = [...(headless ? ['xvfb-run', '-a'] : []), ...(lineBuffered ? ['stdbuf', '-oL'] : []), plan.simulator, plan.artifact];
    const run = words.join(' ');
    if (argv.includes('--run')) {
      process.stderr.write(`build: ${run}\n`);
      const sim = spawnSync(words[0], words.slice(1), { stdio: 'inherit' });
      return sim.status ?? 0;
    }
    process.stdout.write(`run it: ${run}\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = main(process.argv.slice(2));
}
