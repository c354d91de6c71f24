/**
 * The credential store as the build tool writes it (tools/moddable/store.ts,
 * build.ts): what goes in, what is refused, where secrets go (never argv), the
 * simulator's directory, and the NVS partition image made with ESP-IDF's own
 * generator and read back with ESP-IDF's own nvs_tool.py. The NVS part needs
 * $IDF_PATH and a python with esp_idf_nvs_partition_gen ($FIELDLINK_PYTHON,
 * else python3): it skips with a line otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nvsPartition, planBuild } from '../../../tools/moddable/build';
import { fakeMbedtls } from './fake-mbedtls';
import { collectStore, nvsCsv, wifiPassword, writeNvsImage, writeStoreDirectory } from '../../../tools/moddable/store';

const ROOT = resolve(import.meta.dirname, '../../..');
const BUILD = join(ROOT, 'tools/moddable/build.ts');

function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function credentialsDir(config?: Record<string, unknown>): string {
  const dir = scratch('fieldlink-store-cred-');
  writeFileSync(join(dir, 'ca.der'), Uint8Array.from([0x30, 0x82, 1, 2, 3]));
  writeFileSync(join(dir, 'device.der'), Uint8Array.from([0x30, 0x82, 4, 5, 6]));
  writeFileSync(join(dir, 'device.key.der'), Uint8Array.from([0x30, 0x82, 7, 8, 9, 0]));
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** A directory shaped like a built SDK with two ESP32 targets (as build-cli.test.ts makes). */
function fakeSdk(): string {
  const dir = scratch('fieldlink-store-sdk-');
  const bin = join(dir, 'build', 'bin', 'lin', 'release');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'mcconfig'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, 'mcconfig'), 0o755);
  mkdirSync(join(dir, 'build', 'devices', 'esp32', 'targets', 'esp32c3'), { recursive: true });
  writeFileSync(join(dir, 'build', 'devices', 'esp32', 'targets', 'esp32c3', 'manifest.json'), JSON.stringify({ build: { ESP32_SUBCLASS: 'esp32c3' } }));
  return dir;
}

function bare(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const key of ['MODDABLE', 'IDF_PATH', 'FIELDLINK_WIFI_PASSWORD', 'UPLOAD_PORT']) if (!(key in extra)) delete env[key];
  return env;
}

function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

test('the store holds the three DER files and the text entries given; bad values are refused with what to do', () => {
  const dir = credentialsDir();
  try {
    const entries = collectStore(dir, new Map([['thing', 'dev-42'], ['ssid', 'plant-floor'], ['password', 'hunter22']]));
    assert.deepEqual(entries.map((e) => e.name), ['ca.der', 'device.der', 'device.key.der', 'thing', 'ssid', 'password']);
    assert.deepEqual([...entries[2].bytes], [0x30, 0x82, 7, 8, 9, 0]);
    assert.equal(text(entries.find((e) => e.name === 'ssid')?.bytes), 'plant-floor');
    assert.throws(() => collectStore(dir, new Map([['port', '44x']])), /port=44x is not a port number/);
    assert.throws(() => collectStore(dir, new Map([['ssid', 'x'.repeat(33)]])), /ssid must be 1 to 32 bytes/);
    assert.throws(() => collectStore(dir, new Map([['staticIp', '10.0.0.9']])), /needs netmask= and gateway=/);
    assert.throws(() => collectStore(dir, new Map([['gateway', '10.0.0']])), /is not an IPv4 address/);
    rmSync(join(dir, 'device.key.der'));
    assert.throws(() => collectStore(dir, new Map()), /no device\.key\.der in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the simulator\'s store is a private directory holding exactly the entries, replaced whole', () => {
  const credentials = credentialsDir();
  const device = scratch('fieldlink-store-device-');
  try {
    writeStoreDirectory(device, collectStore(credentials, new Map([['thing', 'a'], ['endpoint', 'e.example']])));
    writeStoreDirectory(device, collectStore(credentials, new Map([['thing', 'b']])));
    const nvs = join(device, 'nvs');
    assert.deepEqual(readdirSync(nvs).sort(), ['ca.der', 'device.der', 'device.key.der', 'thing']);
    assert.equal(readFileSync(join(nvs, 'thing'), 'utf8'), 'b');
    assert.equal(statSync(nvs).mode & 0o777, 0o700);
    assert.equal(statSync(join(nvs, 'device.key.der')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(device).sort(), ['nvs'], 'no temporary directory left behind');
  } finally {
    rmSync(credentials, { recursive: true, force: true });
    rmSync(device, { recursive: true, force: true });
  }
});

test('password= on the command line is refused with where the password goes, exit 2; the environment\'s never reaches mcconfig', () => {
  const sdk = fakeSdk();
  const credentials = credentialsDir({ endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com', thing: 't1', port: 443 });
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', BUILD, 'esp32', '--credentials', credentials, 'ssid=x', 'password=hunter22'], { cwd: ROOT, env: bare({ MODDABLE: sdk, IDF_PATH: sdk }), encoding: 'utf8' });
    assert.equal(r.status, 2);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^build: password= on the command line is visible .* \$FIELDLINK_WIFI_PASSWORD or a file \(--wifi-password-file FILE\)/);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter22/);

    const env = bare({ MODDABLE: sdk, IDF_PATH: sdk, FIELDLINK_WIFI_PASSWORD: 'hunter22' });
    const plan = planBuild('esp32', ['--credentials', credentials, '--target', 'esp32c3', 'ssid=plant', 'thing=dev-9'], env, { outputDir: scratch('fieldlink-store-out-') });
    if (plan === 'help') return;
    assert.ok(!plan.args.some((a) => a.includes('hunter22')), 'no secret in mcconfig\'s argv');
    assert.equal(plan.env.FIELDLINK_WIFI_PASSWORD, undefined, 'nor in its environment');
    assert.ok(!plan.args.some((a) => a.startsWith('ssid=')), 'the ssid goes to the store, not the image');
    assert.ok(plan.args.includes('thing=dev-9'), 'image config');
    const store = new Map(plan.store?.entries.map((e) => [e.name, text(e.bytes)]));
    assert.equal(store.get('password'), 'hunter22');
    assert.equal(store.get('ssid'), 'plant');
    assert.equal(store.get('thing'), 'dev-9', 'the command line wins over config.json');
    assert.equal(store.get('endpoint'), 'abc-ats.iot.eu-west-1.amazonaws.com');
    assert.match(plan.store?.nvsImage ?? '', /nvs[/\\]esp32c3[/\\]dev-9\.nvs\.bin$/);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

test('Wi-Fi keys need a credential store; flash:esp32 --credentials needs an ssid and a port and takes only store keys', () => {
  const sdk = fakeSdk();
  const credentials = credentialsDir();
  const env = bare({ MODDABLE: sdk, IDF_PATH: sdk });
  try {
    assert.throws(() => planBuild('esp32', ['ssid=plant'], env), /ssid= goes into the device's credential store, not the firmware image — add --credentials DIR/);
    assert.throws(() => planBuild('flash-esp32', ['--credentials', credentials, '--port', '/dev/ttyUSB0'], env), /no Wi-Fi network given for the credential store — pass ssid=NAME/);
    assert.throws(() => planBuild('flash-esp32', ['--credentials', credentials, 'ssid=plant'], env), /no serial port .* --port PORT or set \$UPLOAD_PORT/);
    assert.throws(() => planBuild('flash-esp32', ['--credentials', credentials, 'ssid=plant', 'keepAliveS=60', '--port', 'p'], env), /keepAliveS= is firmware image config/);
    const plan = planBuild('flash-esp32', ['--credentials', credentials, 'ssid=plant', '--port', '/dev/ttyUSB0'], env);
    if (plan === 'help') return;
    assert.equal(plan.credentialsOnly, true);
    assert.ok(!plan.args.includes('-m'), 'only the partition table is generated, nothing built or flashed by mcconfig');
    assert.equal(plan.store?.port, '/dev/ttyUSB0');
    // The firmware image needs no Wi-Fi at all.
    const image = planBuild('flash-esp32', ['--credentials', credentials].slice(2), env);
    if (image === 'help') return;
    assert.equal(image.credentialsOnly, false);
    assert.equal(image.store, undefined);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

test('the simulator build puts the credentials in the device directory, not in its config', () => {
  const sdk = fakeSdk();
  const credentials = credentialsDir({ thing: 'sim-dev-3' });
  try {
    const plan = planBuild('sim', ['--credentials', credentials, '--device', join(tmpdir(), 'fieldlink-dev-x'), 'endpoint=127.0.0.1'], bare({ MODDABLE: sdk, FIELDLINK_MBEDTLS: fakeMbedtls() }));
    if (plan === 'help') return;
    assert.equal(plan.store?.deviceDir, join(tmpdir(), 'fieldlink-dev-x'));
    assert.ok(plan.args.includes(`deviceDir=${join(tmpdir(), 'fieldlink-dev-x')}`));
    assert.ok(!plan.args.some((a) => a.startsWith('thing=')), 'config.json goes to the store');
    const store = new Map(plan.store?.entries.map((e) => [e.name, text(e.bytes)]));
    assert.equal(store.get('thing'), 'sim-dev-3');
    assert.equal(store.get('endpoint'), '127.0.0.1');
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

test('the nvs partition\'s offset and size come from the generated table', () => {
  const dir = scratch('fieldlink-store-table-');
  try {
    const table = join(dir, 'partitions.csv');
    writeFileSync(table, '# Name, Type, SubType, Offset, Size\nnvs, data, nvs, 0x9000, 0x006000,\nphy_init, data, phy, 0xf000, 0x001000,\nfactory, app, factory, , 0x3e0000\nstorage, data, spiffs, , 0x10000,\n');
    assert.deepEqual(nvsPartition(table), { offset: 0x9000, size: 0x6000 });
    writeFileSync(table, 'factory, app, factory, 0x10000, 0x3e0000\n');
    assert.throws(() => nvsPartition(table), /has no "nvs" data partition/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const python = [process.env.FIELDLINK_PYTHON, 'python3'].find((p) => p && spawnSync(p, ['-c', 'import esp_idf_nvs_partition_gen'], { stdio: 'ignore' }).status === 0);
const idf = process.env.IDF_PATH;
const nvsSkip = !idf || !existsSync(join(idf, 'components/nvs_flash/nvs_partition_tool/nvs_tool.py'))
  ? 'IDF_PATH is not set: the NVS image test uses ESP-IDF\'s generator and nvs_tool.py'
  : !python ? 'no python with esp_idf_nvs_partition_gen (set FIELDLINK_PYTHON to ESP-IDF\'s python)' : false;

test('the NVS partition image holds every entry as a blob in namespace fieldlink (ESP-IDF\'s generator, read back by its nvs_tool.py)', { skip: nvsSkip }, () => {
  const credentials = credentialsDir();
  const out = scratch('fieldlink-store-nvs-');
  try {
    const entries = collectStore(credentials, new Map([['ssid', 'plant-floor'], ['password', 'hunter22'], ['thing', 'dev-42']]));
    assert.match(nvsCsv(entries, (n) => `/x/${n}`), /^key,type,encoding,value\nfieldlink,namespace,,\nca\.der,file,binary,\/x\/ca\.der\n/);
    const image = join(out, 'sub', 'dev-42.nvs.bin');
    writeNvsImage({ python: python as string, idf: idf as string }, entries, 0x6000, image);
    assert.equal(statSync(image).size, 0x6000);
    assert.equal(statSync(image).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(out, 'sub')), ['dev-42.nvs.bin'], 'the generator\'s inputs are gone');
    const r = spawnSync(python as string, [join(idf as string, 'components/nvs_flash/nvs_partition_tool/nvs_tool.py'), '-d', 'minimal', '-f', 'json', image], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const read = JSON.parse(r.stdout) as Array<{ namespace: string; key: string; encoding: string; data: string }>;
    for (const entry of entries) {
      const found = read.find((e) => e.key === entry.name);
      assert.ok(found, `${entry.name} in the image`);
      assert.equal(found.namespace, 'fieldlink');
      assert.match(found.encoding, /blob/);
      assert.deepEqual([...Buffer.from(found.data, 'base64')], [...entry.bytes], entry.name);
    }
    const check = spawnSync(python as string, [join(idf as string, 'components/nvs_flash/nvs_partition_tool/nvs_tool.py'), '-i', '-d', 'none', image], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  } finally {
    rmSync(credentials, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('the Wi-Fi password comes from --wifi-password-file (first line) before $FIELDLINK_WIFI_PASSWORD; a missing or empty file is one clear error', () => {
  const dir = scratch('fieldlink-store-pw-');
  try {
    const file = join(dir, 'wifi');
    writeFileSync(file, 'from-file\nignored\n');
    assert.equal(wifiPassword(file, { FIELDLINK_WIFI_PASSWORD: 'from-env' }), 'from-file');
    assert.equal(wifiPassword(undefined, { FIELDLINK_WIFI_PASSWORD: 'from-env' }), 'from-env');
    assert.equal(wifiPassword(undefined, {}), undefined);
    writeFileSync(file, '\n');
    assert.throws(() => wifiPassword(file, {}), /--wifi-password-file .* is empty — write the password on its first line/);
    assert.throws(() => wifiPassword(join(dir, 'nope'), {}), /does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
