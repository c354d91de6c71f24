/**
 * The device's credential store (hal/moddable/store-layout.ts) as the build
 * tool writes it: a directory of files for the Moddable simulator
 * (`<deviceDir>/nvs/<name>`), an NVS partition image for a board (ESP-IDF's
 * NVS partition generator, components/nvs_flash/nvs_partition_generator),
 * flashed on its own with esptool. What goes in: the DER files of a
 * credentials directory, its config.json (endpoint, thing, port), the
 * command line's store keys, and the Wi-Fi password from the environment or a
 * file (never the command line).
 *
 * Secrets are written with mode 0600 inside 0700 directories, by exclusive
 * create into a fresh temporary directory then renamed (the generator's
 * inputs), or replaced in place with a rename (the outputs).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isStoreName, STORE_FILES, STORE_NAMESPACE, STORE_TEXT, type StoreName } from '../../hal/moddable/store-layout';

export interface StoreEntry {
  name: StoreName;
  bytes: Uint8Array;
}

/** The environment variable that carries the Wi-Fi password. */
export const WIFI_PASSWORD_ENV = 'FIELDLINK_WIFI_PASSWORD';

export class StoreError extends Error {
  constructor(readonly what: string, readonly todo: string) {
    super(`${what} — ${todo}`);
    this.name = 'StoreError';
  }
}

/** `credentials/config.json` as provision import writes it: endpoint, thing, port. */
export function readConfigJson(credentials: string): Map<string, string> {
  const out = new Map<string, string>();
  const file = join(credentials, 'config.json');
  if (!existsSync(file)) return out;
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new StoreError(`${file} is not valid JSON`, 'run npm run provision -- import again, or delete it');
  }
  for (const key of ['endpoint', 'thing', 'port'] as const) {
    if (typeof saved[key] === 'string' || typeof saved[key] === 'number') out.set(key, String(saved[key]));
  }
  return out;
}

/** The Wi-Fi password: `--wifi-password-file FILE` (its first line), else $FIELDLINK_WIFI_PASSWORD, else none. */
export function wifiPassword(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file !== undefined) {
    if (!existsSync(file)) throw new StoreError(`--wifi-password-file ${file} does not exist`, 'name a file whose first line is the password');
    const line = readFileSync(file, 'utf8').split(/\r?\n/)[0];
    if (!line) throw new StoreError(`--wifi-password-file ${file} is empty`, 'write the password on its first line');
    return line;
  }
  const value = env[WIFI_PASSWORD_ENV];
  return value ? value : undefined;
}

/**
 * What the store holds: the DER files of `credentials` (all three, or a clear
 * error), then `text` (endpoint, thing, ssid, ...: later entries of the map
 * win). Text values are checked for what the device can use.
 */
export function collectStore(credentials: string, text: Map<string, string>): StoreEntry[] {
  const missing = STORE_FILES.filter((name) => !existsSync(join(credentials, name)));
  if (missing.length) {
    throw new StoreError(`no ${missing.join(', ')} in ${credentials}`, 'run npm run provision -- import (or dev-pki), or pass --credentials DIR');
  }
  const entries: StoreEntry[] = STORE_FILES.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(credentials, name))) }));
  const encoder = new TextEncoder();
  for (const name of STORE_TEXT) {
    const value = text.get(name);
    if (value === undefined) continue;
    if (name === 'port' && !/^\d{1,5}$/.test(value)) throw new StoreError(`port=${value} is not a port number`, 'pass port=1..65535');
    if (name === 'ssid' && (value.length === 0 || encoder.encode(value).length > 32)) throw new StoreError('ssid must be 1 to 32 bytes', 'check ssid=');
    if (name === 'password' && encoder.encode(value).length > 64) throw new StoreError('the Wi-Fi password is longer than 64 bytes', `check ${WIFI_PASSWORD_ENV}`);
    if (['staticIp', 'netmask', 'gateway', 'dns'].includes(name) && !/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) {
      throw new StoreError(`${name}=${value} is not an IPv4 address`, 'pass a dotted quad such as 192.168.1.50');
    }
    entries.push({ name, bytes: encoder.encode(value) });
  }
  const names = new Set(entries.map((e) => e.name));
  if (names.has('staticIp') && !(names.has('netmask') && names.has('gateway'))) {
    throw new StoreError('staticIp= needs netmask= and gateway= too', 'pass all three (dns= is optional, default the gateway)');
  }
  return entries;
}

/** Creates `path` with mode 0600, failing if anything is there (no symlink followed). */
function writeNew(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * The simulator's store: `<deviceDir>/nvs/` holds exactly `entries` afterwards
 * (written into a fresh private directory, then swapped in).
 */
export function writeStoreDirectory(deviceDir: string, entries: StoreEntry[]): string {
  mkdirSync(deviceDir, { recursive: true, mode: 0o700 });
  const target = join(deviceDir, 'nvs');
  const fresh = mkdtempSync(join(deviceDir, '.nvs-'));
  chmodSync(fresh, 0o700);
  for (const entry of entries) {
    if (!isStoreName(entry.name)) throw new StoreError(`"${entry.name}" is not a store name`, 'this is a bug in tools/moddable/store.ts');
    writeNew(join(fresh, entry.name), entry.bytes);
  }
  const old = existsSync(target) ? `${target}.old-${process.pid}` : undefined;
  if (old) renameSync(target, old);
  renameSync(fresh, target);
  if (old) rmSync(old, { recursive: true, force: true });
  return target;
}

/** The NVS generator's CSV for `entries`, every entry a blob in namespace `fieldlink`. */
export function nvsCsv(entries: StoreEntry[], fileOf: (name: string) => string): string {
  const lines = ['key,type,encoding,value', `${STORE_NAMESPACE},namespace,,`];
  for (const entry of entries) lines.push(`${entry.name},file,binary,${fileOf(entry.name)}`);
  return `${lines.join('\n')}\n`;
}

export interface NvsTools {
  /** A python that can import esp_idf_nvs_partition_gen (ESP-IDF's environment has it). */
  python: string;
  idf: string;
}

/** Finds a python with ESP-IDF's NVS partition generator, or says how to get one. */
export function nvsTools(env: NodeJS.ProcessEnv): NvsTools {
  const idf = env.IDF_PATH;
  if (!idf || !existsSync(join(idf, 'components', 'nvs_flash', 'nvs_partition_generator', 'nvs_partition_gen.py'))) {
    throw new StoreError('$IDF_PATH does not point at ESP-IDF 6.0 (its NVS partition generator writes the credential partition)', 'source ESP-IDF\'s export.sh');
  }
  for (const python of [env.FIELDLINK_PYTHON, 'python', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(python, ['-c', 'import esp_idf_nvs_partition_gen'], { encoding: 'utf8' });
    if (r.status === 0) return { python, idf };
  }
  throw new StoreError('no python can import esp_idf_nvs_partition_gen (ESP-IDF\'s NVS partition generator)', 'source ESP-IDF\'s export.sh (it installs the generator), or set FIELDLINK_PYTHON to a python that has it');
}

/**
 * Writes `out` (mode 0600): an NVS partition image of `size` bytes holding
 * `entries`, made by ESP-IDF's generator from files in a private temporary
 * directory that is removed afterwards.
 */
export function writeNvsImage(tools: NvsTools, entries: StoreEntry[], size: number, out: string): void {
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  // Beside the output, so the finished image is renamed into place on the same file system.
  const work = mkdtempSync(join(dirname(out), '.nvs-work-'));
  chmodSync(work, 0o700);
  try {
    for (const entry of entries) writeNew(join(work, entry.name), entry.bytes);
    const csv = join(work, 'store.csv');
    writeNew(csv, new TextEncoder().encode(nvsCsv(entries, (name) => join(work, name))));
    const image = join(work, 'store.bin');
    const r = spawnSync(tools.python, [
      join(tools.idf, 'components', 'nvs_flash', 'nvs_partition_generator', 'nvs_partition_gen.py'),
      'generate', csv, image, `0x${size.toString(16)}`,
    ], { encoding: 'utf8' });
    if (r.status !== 0 || !existsSync(image)) {
      throw new StoreError(`the NVS partition generator failed: ${(r.stderr || r.stdout || '').trim().split('\n').at(-1)}`, `a partition of ${size} bytes may be too small for the credentials`);
    }
    chmodSync(image, 0o600);
    renameSync(image, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Names of what a store directory holds, for messages. */
export function storeNames(deviceDir: string): string[] {
  const dir = join(deviceDir, 'nvs');
  return existsSync(dir) ? readdirSync(dir).filter(isStoreName).sort() : [];
}
