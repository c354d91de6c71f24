/**
 * Builds the firmware with the Moddable SDK's `mcconfig`, and writes a
 * device's credential store.
 *
 *   npm run build:sim   -- [key=value ...] [--local] [--credentials DIR] [--device DIR] [--release] [--run]
 *   npm run build:esp32 -- [key=value ...] [--target NAME] [--debug] [--credentials DIR [ssid=NAME]]
 *   npm run flash:esp32 -- [key=value ...] [--target NAME] [--debug]          (the firmware image)
 *   npm run flash:esp32 -- --credentials DIR [ssid=NAME ...] [--target NAME] [--port PORT]
 *                                                                          (only the credential partition)
 *
 * What it does: checks the SDK ($MODDABLE, and $IDF_PATH for ESP32), the
 * target (a directory of $MODDABLE/build/devices/esp32/targets), the config
 * keys (only those the firmware reads, and the credential store's) and the
 * credentials; puts node_modules/.bin first on PATH (mcconfig runs `tsc`, which
 * must be TypeScript 6 for its es2025 settings); for ESP32 writes the sdkconfig
 * layer (tools/moddable/sdkconfig.ts: the board's own, then fieldlink's for the
 * keys the board leaves alone) and names it in SDKCONFIGPATH; passes
 * `key=value` as mcconfig config overrides; runs mcconfig on
 * manifests/simulator.json or manifests/esp32.json with output in
 * build/moddable, and prints the path of what it built. ESP32 builds are
 * release builds (the task watchdog armed, no xsbug, no instrumentation timer)
 * unless --debug; simulator builds are debug builds unless --release.
 *
 * The credential store (hal/moddable/store-layout.ts, tools/moddable/store.ts)
 * is per device and outside the image: the DER files of --credentials DIR, its
 * config.json (endpoint, thing, port), the store keys of the command line
 * (endpoint, thing, port, ssid, staticIp, netmask, gateway, dns) and the Wi-Fi
 * password, which comes only from $FIELDLINK_WIFI_PASSWORD or
 * --wifi-password-file FILE: password= on a command line (visible in `ps`) is
 * refused, and no secret ever reaches mcconfig's argv. build:sim writes it into
 * the simulated device's directory (--device, default build/moddable/sim-device,
 * which also keeps its flash); build:esp32 --credentials writes an NVS
 * partition image; flash:esp32 --credentials writes that image to the board's
 * `nvs` partition and nothing else.
 *
 * Every user mistake or missing prerequisite is one line on stderr,
 * `build: <what is wrong> — <what to do>`, with exit status 2.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join, relative, resolve } from 'node:path';
import { firmwareConfigSources } from '../../hal/moddable/config';
import { STORE_FILES, STORE_TEXT } from '../../hal/moddable/store-layout';
import { findMbedtls } from './mbedtls';
import { DEFAULT_DEV_PKI_DIR, DEFAULT_ENDPOINT_NAME, AWS_MQTT_ALPN } from '../provision/defaults';
import { layout, parseTable } from './partitions';
import { composeLayer, listTargets, readTarget, type BoardTarget } from './sdkconfig';
import { collectStore, nvsTools, readConfigJson, StoreError, WIFI_PASSWORD_ENV, wifiPassword, writeNvsImage, writeStoreDirectory, type StoreEntry } from './store';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const GETTING_STARTED =
  'documentation/Moddable SDK - Getting Started.md in the Moddable SDK (github.com/Moddable-OpenSource/moddable)';
const ESP32_GUIDE = 'documentation/devices/esp32.md in the Moddable SDK';
/** Port `npm run endpoint` listens on (test-sim/endpoint/main.ts). */
const LOCAL_ENDPOINT_PORT = 8443;

/** Store keys that are not firmware config: they go only into the credential store. */
const STORE_ONLY_KEYS = Object.freeze(['ssid', 'staticIp', 'netmask', 'gateway', 'dns']);

export type Mode = 'sim' | 'esp32' | 'flash-esp32';

const HELP: Record<Mode, string> = {
  'sim': `usage: npm run build:sim -- [key=value ...] [options]

Builds manifests/simulator.json for the Moddable simulator (mcconfig -d -m -p ${hostPlatform()}),
a debug build unless --release, and writes the simulated device's credential store
(<device>/nvs/: the credentials' DER files, endpoint, thing, port) outside the image.
key=value pairs override the manifests' config (${userKeys().join(', ')});
defaults come from <credentials>/config.json. Any other key is refused.

  --local            point at the local endpoint (npm run endpoint): endpoint=127.0.0.1
                     port=${LOCAL_ENDPOINT_PORT} serverName=<its name> alpn=${AWS_MQTT_ALPN}, credentials ${DEFAULT_DEV_PKI_DIR}
  --credentials DIR  ca.der, device.der, device.key.der, config.json (default credentials/)
  --device DIR       the simulated device's non-volatile state: its credential store and flash
                     (default build/moddable/sim-device)
  --release          release build (no debugger support)
  --run              start the simulator (mcsim) on the result
  -h, --help         this text
`,
  'esp32': `usage: npm run build:esp32 -- [key=value ...] [options]

Builds manifests/esp32.json for an ESP32 board (mcconfig -m -p esp32[/NAME] -t build),
a release build unless --debug: one image for a whole fleet, no credentials in it.
Needs ESP-IDF 6.0 ($IDF_PATH). key=value pairs override the manifests' config
(${userKeys().filter((k) => !STORE_ONLY_KEYS.includes(k) && k !== 'password').join(', ')}).
With --credentials DIR it also writes that device's credential partition (an NVS image):
the DER files, config.json, ssid=NAME (staticIp= netmask= gateway= dns= for a static address)
and the Wi-Fi password from $${WIFI_PASSWORD_ENV} or --wifi-password-file.

  --target NAME      a target of the Moddable SDK ($MODDABLE/build/devices/esp32/targets):
                     esp32c3, esp32s3, or a board such as m5stack_core2; default: esp32
  --credentials DIR  ca.der, device.der, device.key.der, config.json (default credentials/)
  --wifi-password-file FILE  the Wi-Fi password (first line)
  --debug            debug build (xsbug over the serial port, instrumentation, no watchdog)
  -h, --help         this text
`,
  'flash-esp32': `usage: npm run flash:esp32 -- [key=value ...] [options]              the firmware image
       npm run flash:esp32 -- --credentials DIR ssid=NAME [options]   only the credential partition

The first builds manifests/esp32.json and flashes it on $UPLOAD_PORT (mcconfig -m -p esp32[/NAME]),
a release build unless --debug (which then waits for xsbug); the same image serves every device.
The second writes one device's credential store into its "nvs" partition and nothing else
(ESP-IDF's NVS partition generator, then esptool): the DER files and config.json of DIR,
ssid=NAME, thing=, endpoint=, port=, staticIp= netmask= gateway= dns=, and the Wi-Fi password
from $${WIFI_PASSWORD_ENV} or --wifi-password-file FILE (never password= on the command line).
Needs ESP-IDF 6.0 ($IDF_PATH, its python environment).

  --target NAME      a target of the Moddable SDK ($MODDABLE/build/devices/esp32/targets):
                     esp32c3, esp32s3, or a board such as m5stack_core2; default: esp32
  --credentials DIR  write only the credential partition, from DIR
  --wifi-password-file FILE  the Wi-Fi password (first line)
  --port PORT        the serial port (default $UPLOAD_PORT)
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

function hostPlatform(): 'lin' | 'mac' | 'win' {
  return process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : 'lin';
}

interface Parsed {
  overrides: Map<string, string>;
  local: boolean;
  credentials?: string;
  device?: string;
  wifiPasswordFile?: string;
  port?: string;
  /** Undefined: the mode's default (simulator debug, ESP32 release). */
  release?: boolean;
  run: boolean;
  target?: string;
  help: boolean;
}

/**
 * The config keys a user may set with key=value: those firmware reads as a
 * plain value (hal/moddable/config.ts), under their mc/config names, and the
 * credential store's (Wi-Fi, a static address).
 */
export function userKeys(): string[] {
  return [...new Set([...firmwareConfigSources(), ...STORE_TEXT.filter((k) => k !== 'password')])];
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
    else if (arg === '--wifi-password-file') out.wifiPasswordFile = value();
    else if (arg === '--local' && mode === 'sim') out.local = true;
    else if (arg === '--run' && mode === 'sim') out.run = true;
    else if (arg === '--device' && mode === 'sim') out.device = value();
    else if (arg === '--target' && mode !== 'sim') out.target = value();
    else if (arg === '--port' && mode === 'flash-esp32') out.port = value();
    else if (/^password=/.test(arg)) {
      throw new BuildError('password= on the command line is visible to every process (ps) and kept in shell history', `put the Wi-Fi password in $${WIFI_PASSWORD_ENV} or a file (--wifi-password-file FILE); it goes into the credential store only`);
    } else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg)) {
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
  /** The build's time (default Date.now()), passed as buildTimeMs unless the command line gives one. */
  now?: number;
  /** Another entry manifest (one that includes manifests/simulator.json or esp32.json), e.g. to set `creation`. */
  manifest?: string;
}

/** The credential store a build writes: the simulator's directory, or a board's NVS partition image. */
export interface StorePlan {
  entries: StoreEntry[];
  /** Simulator: the device directory (its `nvs/` is the store). */
  deviceDir?: string;
  /** ESP32: where the NVS image goes, and the xsProj directory whose partitions.csv gives its offset and size. */
  nvsImage?: string;
  partitionsFile?: string;
  /** flash:esp32 --credentials: write the image to the board on this port. */
  port?: string;
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
  /** The credential store to write, if this build writes one. */
  store?: StorePlan;
  /** flash:esp32 --credentials: only the credential partition; mcconfig runs in generate-only mode for the table. */
  credentialsOnly: boolean;
}

/** Works out the mcconfig command line and the credential store, or throws a BuildError saying what is missing. */
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
  const credentialsOnly = mode === 'flash-esp32' && options.credentials !== undefined;
  const writesStore = !isBoard || options.credentials !== undefined;

  const credentials = resolve(ROOT, options.credentials ?? (options.local ? DEFAULT_DEV_PKI_DIR : 'credentials'));
  const missing = writesStore ? STORE_FILES.filter((name) => !existsSync(join(credentials, name))) : [];
  if (missing.length) {
    throw new BuildError(
      `no ${missing.join(', ')} in ${credentials.startsWith(ROOT) ? relative(ROOT, credentials) || '.' : credentials}`,
      options.local
        ? 'run npm run provision -- dev-pki (or npm run endpoint, which makes one)'
        : 'run npm run provision -- import --endpoint HOST --cert FILE --key FILE --ca FILE, or pass --credentials DIR (--local for the dev PKI)',
    );
  }

  // The image's config: --local, then the command line (store-only keys stay out of it).
  const config = new Map<string, string>();
  if (options.local) {
    config.set('endpoint', '127.0.0.1');
    config.set('port', String(LOCAL_ENDPOINT_PORT));
    config.set('serverName', endpointNameOf(credentials));
    config.set('alpn', AWS_MQTT_ALPN);
  }
  // The chip's energy profile for the power policy, unless given.
  if (target && userKeys().includes('chip') && ['esp32', 'esp32s3', 'esp32c3'].includes(target.chip)) config.set('chip', target.chip);
  // The image's own time: the firmware refuses any wall time earlier than it (firmware/time), unless given.
  if (!credentialsOnly) config.set('buildTimeMs', String(planOptions.now ?? Date.now()));
  for (const [key, value] of options.overrides) {
    if (STORE_ONLY_KEYS.includes(key)) {
      if (!writesStore) {
        throw new BuildError(`${key}= goes into the device's credential store, not the firmware image`, `add --credentials DIR (npm run ${script(mode)} -- --credentials DIR ${key}=...)`);
      }
      continue;
    }
    if (credentialsOnly && !STORE_TEXT.includes(key as typeof STORE_TEXT[number])) {
      throw new BuildError(`${key}= is firmware image config, and --credentials writes only the credential partition`, `flash the image with it: npm run flash:esp32 -- ${key}=...`);
    }
    config.set(key, String(value));
  }

  // The credential store: config.json, --local, the command line's store keys, the Wi-Fi password.
  let store: StorePlan | undefined;
  const outputDir = planOptions.outputDir ?? join(ROOT, 'build', 'moddable');
  if (writesStore) {
    const text = new Map<string, string>();
    try {
      for (const [key, value] of readConfigJson(credentials)) text.set(key, value);
      if (options.local) for (const key of ['endpoint', 'port']) text.set(key, config.get(key) as string);
      for (const [key, value] of options.overrides) if (STORE_TEXT.includes(key as typeof STORE_TEXT[number])) text.set(key, value);
      const password = wifiPassword(options.wifiPasswordFile, env);
      if (password !== undefined) text.set('password', password);
      if (isBoard && !text.get('ssid')) {
        throw new BuildError('no Wi-Fi network given for the credential store', `pass ssid=NAME (the password in $${WIFI_PASSWORD_ENV} or --wifi-password-file FILE)`);
      }
      store = { entries: collectStore(credentials, text) };
    } catch (error) {
      if (error instanceof StoreError) throw new BuildError(error.what, error.todo);
      throw error;
    }
    if (!isBoard) {
      store.deviceDir = resolve(ROOT, options.device ?? join(outputDir, 'sim-device'));
      config.set('deviceDir', store.deviceDir);
    } else {
      store.nvsImage = join(outputDir, 'nvs', target?.name ?? 'esp32', `${text.get('thing') ?? 'device'}.nvs.bin`.replace(/[^A-Za-z0-9._-]/g, '_'));
      if (credentialsOnly) {
        store.port = options.port ?? env.UPLOAD_PORT;
        if (!store.port) throw new BuildError('no serial port to write the credential partition to', 'pass --port PORT or set $UPLOAD_PORT');
      }
    }
  } else if (options.wifiPasswordFile !== undefined) {
    throw new BuildError('--wifi-password-file without --credentials', 'the password goes into the credential store: add --credentials DIR ssid=NAME');
  }

  if (!isBoard && host === 'lin' && !planOptions.generateOnly) {
    // hal/moddable/native/tls links Mbed TLS 4 built beside the project.
    const mbedtls = findMbedtls(env);
    if ('what' in mbedtls) throw new BuildError(mbedtls.what, mbedtls.todo);
  }
  const platform = target ? (options.target ? `esp32/${options.target}` : 'esp32') : host;
  const release = options.release ?? isBoard;
  const kind = release ? 'release' : 'debug';
  const generateOnly = planOptions.generateOnly || credentialsOnly;
  const args = [...(release ? [] : ['-d']), ...(generateOnly ? [] : ['-m']), '-p', platform];
  if (mode !== 'flash-esp32' && !generateOnly) args.push('-t', 'build');
  args.push('-o', outputDir, planOptions.manifest ?? join(ROOT, 'manifests', isBoard ? 'esp32.json' : 'simulator.json'));
  for (const [key, value] of config) args.push(`${key}=${value}`);

  const artifact = isBoard
    ? join(outputDir, 'bin', ...platform.split('/'), kind, 'fieldlink', 'xs_esp32.bin')
    : join(outputDir, 'bin', host, 'mc', kind, 'fieldlink', host === 'mac' ? 'mc.dylib' : host === 'win' ? 'mc.dll' : 'mc.so');
  if (store && target) {
    store.partitionsFile = join(outputDir, 'tmp', 'esp32', ...platform.split('/').slice(1), kind, 'fieldlink', `xsProj-${target.chip}`, 'partitions.csv');
  }

  const planEnv: NodeJS.ProcessEnv = {
    ...env,
    MODDABLE: moddable,
    PATH: [join(ROOT, 'node_modules', '.bin'), bin, env.PATH ?? ''].join(delimiter),
    // manifests/tls.json's resources (the image of a board build takes none from the store).
    FIELDLINK_CREDENTIALS: writesStore ? credentials : env.FIELDLINK_CREDENTIALS ?? credentials,
  };
  delete planEnv.SDKCONFIGPATH;
  delete planEnv[WIFI_PASSWORD_ENV];
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
    store,
    credentialsOnly,
  };
}

/** Offset and size of the `nvs` data partition in a generated partitions.csv. */
export function nvsPartition(partitionsFile: string): { offset: number; size: number } {
  if (!existsSync(partitionsFile)) throw new BuildError(`no partition table at ${partitionsFile}`, 'mcconfig did not generate one: run the build again and read its output');
  const nvs = layout(parseTable(readFileSync(partitionsFile, 'utf8'))).find((p) => p.type === 'data' && p.subtype === 'nvs' && p.name === 'nvs');
  if (!nvs) throw new BuildError(`the partition table ${partitionsFile} has no "nvs" data partition`, 'the credential store lives there: use a board target whose table has one (every Moddable target does)');
  return { offset: nvs.start, size: nvs.size };
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
        for (const name of STORE_FILES) rmSync(join(path, 'resources', name), { force: true });
      } else if (depth < 6) {
        visit(path, depth + 1);
      }
    }
  };
  visit(tmp, 0);
}

/** The command line as echoed (no secret is ever in it; quoting only). */
function shown(args: string[]): string {
  return args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** esptool from ESP-IDF's python environment, writing `image` at `offset`. */
function flashPartitionImage(chip: string, port: string, offset: number, image: string, env: NodeJS.ProcessEnv): number {
  const python = [env.FIELDLINK_PYTHON, 'python', 'python3'].find((p) => p && spawnSync(p, ['-c', 'import esptool'], { stdio: 'ignore' }).status === 0);
  if (!python) {
    process.stderr.write('build: no python can import esptool — source ESP-IDF\'s export.sh (it installs esptool), or set FIELDLINK_PYTHON\n');
    return 2;
  }
  const args = ['-m', 'esptool', '--chip', chip, '--port', port, 'write_flash', `0x${offset.toString(16)}`, image];
  process.stderr.write(`build: ${python} ${shown(args)}\n`);
  const r = spawnSync(python, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`build: esptool failed with status ${r.status} — check the port (--port, $UPLOAD_PORT) and that the board is in download mode\n`);
    return r.status ?? 1;
  }
  return 0;
}

/** Writes the credential store a plan asks for; returns an exit status (0: done). */
function writeStore(plan: BuildPlan): number {
  const store = plan.store;
  if (!store) return 0;
  const names = store.entries.map((e) => e.name).join(', ');
  try {
    if (store.deviceDir) {
      const dir = writeStoreDirectory(store.deviceDir, store.entries);
      process.stderr.write(`build: credential store ${relative(ROOT, dir) || dir}: ${names}\n`);
      return 0;
    }
    if (!store.nvsImage || !store.partitionsFile || !plan.board) return 0;
    const { offset, size } = nvsPartition(store.partitionsFile);
    writeNvsImage(nvsTools(plan.env), store.entries, size, store.nvsImage);
    process.stdout.write(`credential partition ${store.nvsImage} (${names}) for the "nvs" partition at 0x${offset.toString(16)}, ${size} bytes\n`);
    if (store.port) {
      const status = flashPartitionImage(plan.board.chip, store.port, offset, store.nvsImage, plan.env);
      if (status === 0) process.stdout.write(`flashed the credential partition on ${store.port}\n`);
      return status;
    }
    return 0;
  } catch (error) {
    if (error instanceof StoreError || error instanceof BuildError) {
      process.stderr.write(`build: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
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
  const result = spawnSync(plan.command, plan.args, { cwd: ROOT, env: plan.env, stdio: plan.credentialsOnly ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  if (result.error) {
    process.stderr.write(`build: cannot run ${plan.command} (${result.error.message}) — check $MODDABLE; setup guide: ${GETTING_STARTED}\n`);
    return 2;
  }
  if (result.status !== 0) {
    process.stderr.write(`build: mcconfig failed with status ${result.status} — see its output above\n`);
    return result.status ?? 1;
  }
  if (plan.credentialsOnly) return writeStore(plan);
  if (mode === 'flash-esp32') {
    process.stdout.write(`flashed ${relative(ROOT, plan.artifact)}\n`);
    return 0;
  }
  if (!existsSync(plan.artifact)) {
    process.stderr.write(`build: mcconfig succeeded but ${plan.artifact} is missing — look under ${plan.outputDir}/bin\n`);
    return 1;
  }
  process.stdout.write(`built ${plan.artifact}\n`);
  const stored = writeStore(plan);
  if (stored !== 0) return stored;
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
