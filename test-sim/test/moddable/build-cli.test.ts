/**
 * tools/moddable/build.ts (npm run build:sim, build:esp32, flash:esp32): a
 * missing SDK, ESP-IDF or credentials, an unknown config key or target is one
 * line on stderr and exit 2; the plan it hands mcconfig.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { planBuild, userKeys } from '../../../tools/moddable/build';
import { fakeMbedtls } from './fake-mbedtls';
import { composeLayer, readTarget, sdkconfigKeys } from '../../../tools/moddable/sdkconfig';

const ROOT = resolve(import.meta.dirname, '../../..');
const BUILD = join(ROOT, 'tools/moddable/build.ts');

function build(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', BUILD, ...args], { cwd: ROOT, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The environment without the SDK, the ESP-IDF or Mbed TLS. */
function bare(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ['MODDABLE', 'IDF_PATH', 'FIELDLINK_MBEDTLS', 'FIELDLINK_MBEDTLS_BUILD']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}


/**
 * A directory shaped like a built SDK: build/bin/<host>/release/mcconfig, and
 * two ESP32 targets: esp32s3 (no sdkconfig of its own) and tiny_board (an
 * esp32c3 with 2 MB of flash and a watchdog setting of its own).
 */
function fakeSdk(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fieldlink-fake-sdk-'));
  const host = process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : 'lin';
  const bin = join(dir, 'build', 'bin', host, 'release');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, host === 'win' ? 'mcconfig.exe' : 'mcconfig'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, host === 'win' ? 'mcconfig.exe' : 'mcconfig'), 0o755);
  const targets = join(dir, 'build', 'devices', 'esp32', 'targets');
  mkdirSync(join(targets, 'esp32s3'), { recursive: true });
  writeFileSync(join(targets, 'esp32s3', 'manifest.json'), JSON.stringify({ build: { ESP32_SUBCLASS: 'esp32s3' } }));
  mkdirSync(join(targets, 'tiny_board', 'sdkconfig'), { recursive: true });
  writeFileSync(join(targets, 'tiny_board', 'manifest.json'), JSON.stringify({ build: { ESP32_SUBCLASS: 'esp32c3', SDKCONFIGPATH: './sdkconfig', PARTITIONS_FILE_FOR_TARGET: './sdkconfig/partitions.csv' } }));
  writeFileSync(join(targets, 'tiny_board', 'sdkconfig', 'sdkconfig.defaults'), 'CONFIG_ESPTOOLPY_FLASHSIZE_4MB=n\nCONFIG_ESPTOOLPY_FLASHSIZE_2MB=y\n');
  writeFileSync(join(targets, 'tiny_board', 'sdkconfig', 'sdkconfig.defaults.release'), '# CONFIG_ESP_TASK_WDT_PANIC is not set\n');
  return dir;
}

function fakeCredentials(): string {
  const credentials = mkdtempSync(join(tmpdir(), 'fieldlink-credentials-'));
  for (const name of ['ca.der', 'device.der', 'device.key.der']) writeFileSync(join(credentials, name), 'x');
  return credentials;
}

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  return lines[0];
}

for (const mode of ['sim', 'esp32', 'flash-esp32']) {
  test(`${mode}: without $MODDABLE it says what is missing and where the setup guide is, exit 2`, () => {
    const r = build([mode], bare());
    assert.equal(r.code, 2, r.stderr);
    const line = oneLine(r.stderr);
    assert.match(line, /^build: \$MODDABLE is not set/);
    assert.match(line, /Moddable SDK - Getting Started\.md/);
    assert.equal(r.stdout, '');
  });
}

test('$MODDABLE pointing nowhere is reported as such, exit 2', () => {
  const r = build(['sim'], bare({ MODDABLE: join(tmpdir(), 'no-such-moddable-sdk') }));
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /no-such-moddable-sdk, which does not exist.*Getting Started/);
});

test('an SDK whose tools are not built is reported, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldlink-unbuilt-sdk-'));
  try {
    const r = build(['sim'], bare({ MODDABLE: dir }));
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /Moddable SDK tools are not built.*mcconfig.*Getting Started/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('esp32 without $IDF_PATH names the ESP-IDF, exit 2', () => {
  const sdk = fakeSdk();
  try {
    const r = build(['esp32'], bare({ MODDABLE: sdk }));
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /^build: \$IDF_PATH is not set \(ESP-IDF 6\.0.*esp32\.md/);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
  }
});

test('missing credentials say how to make them, exit 2', () => {
  const sdk = fakeSdk();
  try {
    const r = build(['sim', '--credentials', join(tmpdir(), 'no-such-credentials')], bare({ MODDABLE: sdk }));
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /no ca\.der, device\.der, device\.key\.der in .*npm run provision -- import/);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
  }
});

test('--help prints usage and exits 0; an unknown argument is one line and exit 2', () => {
  const help = build(['sim', '--help'], bare());
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: npm run build:sim/);
  const bad = build(['sim', '--nope'], bare());
  assert.equal(bad.code, 2);
  assert.match(oneLine(bad.stderr), /unknown argument "--nope"/);
});

test('the plan: simulator debug build by default, key=value passed through to the image, config.json into the store, tsc from node_modules/.bin first on PATH', () => {
  const sdk = fakeSdk();
  const credentials = mkdtempSync(join(tmpdir(), 'fieldlink-credentials-'));
  try {
    for (const name of ['ca.der', 'device.der', 'device.key.der']) writeFileSync(join(credentials, name), 'x');
    writeFileSync(join(credentials, 'config.json'), JSON.stringify({ endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com', thing: 't1', port: 443 }));
    const plan = planBuild('sim', ['--credentials', credentials, 'port=8443', 'thing=t2'], bare({ MODDABLE: sdk, FIELDLINK_MBEDTLS: fakeMbedtls() }));
    assert.notEqual(plan, 'help');
    if (plan === 'help') return;
    assert.deepEqual(plan.args.slice(0, 6), ['-d', '-m', '-p', plan.args[3], '-t', 'build']);
    assert.ok(plan.args.includes('thing=t2') && plan.args.includes('port=8443'));
    assert.ok(!plan.args.some((a) => a.startsWith('endpoint=')), 'config.json is per device: the store, not the image');
    const store = new Map(plan.store?.entries.map((e) => [e.name, new TextDecoder().decode(e.bytes)]));
    assert.equal(store.get('endpoint'), 'abc-ats.iot.eu-west-1.amazonaws.com');
    assert.equal(store.get('thing'), 't2', 'the command line wins over config.json');
    assert.ok(plan.args.some((a) => a.endsWith('manifests/simulator.json')));
    assert.ok(String(plan.env.PATH).startsWith(join(ROOT, 'node_modules', '.bin')));
    assert.match(plan.artifact, /fieldlink[/\\]mc\.(so|dylib|dll)$/);

    const board = planBuild('esp32', ['--target', 'esp32s3'], bare({ MODDABLE: sdk, IDF_PATH: sdk }));
    if (board === 'help') return;
    assert.deepEqual(board.args.slice(0, 3), ['-m', '-p', 'esp32/esp32s3'], 'ESP32 builds are release builds by default');
    assert.ok(board.args.some((a) => a.endsWith('manifests/esp32.json')));
    assert.ok(board.args.includes('chip=esp32s3'), 'the energy profile follows the target');
    assert.equal(board.store, undefined, 'the image of a fleet has no credentials');
    assert.match(board.artifact, /esp32s3[/\\]release[/\\]fieldlink[/\\]xs_esp32\.bin$/);
    const debug = planBuild('esp32', ['--target', 'esp32s3', '--debug'], bare({ MODDABLE: sdk, IDF_PATH: sdk }));
    if (debug === 'help') return;
    assert.deepEqual(debug.args.slice(0, 4), ['-d', '-m', '-p', 'esp32/esp32s3']);
    assert.match(debug.artifact, /esp32s3[/\\]debug[/\\]/);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

test('the image carries the build\'s own time as buildTimeMs unless the command line gives one', () => {
  const sdk = fakeSdk();
  const env = bare({ MODDABLE: sdk, IDF_PATH: sdk });
  const times = (plan: ReturnType<typeof planBuild>): number[] =>
    plan === 'help' ? [] : plan.args.filter((a) => a.startsWith('buildTimeMs=')).map((a) => Number(a.slice('buildTimeMs='.length)));
  try {
    const before = Date.now();
    const [now] = times(planBuild('esp32', ['--target', 'esp32s3'], env));
    assert.ok(now >= before && now <= Date.now(), `buildTimeMs=${now} is not the build's Date.now()`);
    assert.deepEqual(times(planBuild('esp32', ['--target', 'esp32s3'], env, { now: 1_780_000_000_000 })), [1_780_000_000_000]);
    assert.deepEqual(times(planBuild('esp32', ['--target', 'esp32s3', 'buildTimeMs=1767225600000'], env, { now: 1_780_000_000_000 })), [1_767_225_600_000], 'the user\'s value wins, once');
  } finally {
    rmSync(sdk, { recursive: true, force: true });
  }
});

test('an unknown config key is refused with the list of keys, exit 2; every firmware key is accepted', () => {
  const sdk = fakeSdk();
  const credentials = fakeCredentials();
  try {
    const r = build(['sim', '--credentials', credentials, 'endpiont=x.example.com'], bare({ MODDABLE: sdk }));
    assert.equal(r.code, 2);
    const line = oneLine(r.stderr);
    assert.match(line, /^build: unknown config key "endpiont" — the keys are .*endpoint/);
    for (const key of ['endpoint', 'port', 'thing', 'topic', 'serverName', 'alpn', 'sampleIntervalMs', 'uploadIntervalMs', 'powerMode', 'keepAliveS', 'sntp', 'ssid']) {
      assert.ok(userKeys().includes(key), key);
    }
    assert.ok(!userKeys().includes('credentials') && !userKeys().includes('halPlatform'));
    assert.throws(() => planBuild('sim', ['--credentials', credentials, 'halPlatform=esp32'], bare({ MODDABLE: sdk })), /unknown config key "halPlatform"/);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

test('an unknown --target is refused with where the targets are, exit 2', () => {
  const sdk = fakeSdk();
  const credentials = fakeCredentials();
  try {
    const r = build(['esp32', '--target', 'esp32c9'], bare({ MODDABLE: sdk, IDF_PATH: sdk }));
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /^build: unknown --target "esp32c9" — name a directory of .*build\/devices\/esp32\/targets \(2 of them, e\.g\. esp32s3/);
    assert.throws(() => planBuild('esp32', ['--target', '../../../etc'], bare({ MODDABLE: sdk, IDF_PATH: sdk })), /unknown --target/);
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

test('the sdkconfig layer for a board with its own: the board\'s lines as they are, fieldlink\'s only for keys the board leaves alone', () => {
  const sdk = fakeSdk();
  const credentials = fakeCredentials();
  const out = mkdtempSync(join(tmpdir(), 'fieldlink-layer-'));
  try {
    const plan = planBuild('esp32', ['--target', 'tiny_board'], bare({ MODDABLE: sdk, IDF_PATH: sdk }), { outputDir: out });
    if (plan === 'help') return;
    assert.equal(plan.env.SDKCONFIGPATH, join(out, 'sdkconfig', 'tiny_board'));
    assert.deepEqual(plan.keptFromBoard, ['CONFIG_ESP_TASK_WDT_PANIC']);
    const defaults = sdkconfigKeys(readFileSync(join(plan.env.SDKCONFIGPATH as string, 'sdkconfig.defaults'), 'utf8'));
    assert.equal(defaults.get('CONFIG_ESPTOOLPY_FLASHSIZE_2MB'), 'y');
    assert.equal(defaults.get('CONFIG_ESPTOOLPY_FLASHSIZE_4MB'), 'n');
    assert.equal(defaults.get('CONFIG_PM_ENABLE'), 'y');
    const release = sdkconfigKeys(readFileSync(join(plan.env.SDKCONFIGPATH as string, 'sdkconfig.defaults.release'), 'utf8'));
    assert.equal(release.get('CONFIG_ESP_TASK_WDT_PANIC'), 'n', 'the board\'s value stays');
    assert.equal(release.get('CONFIG_ESP_TASK_WDT_EN'), 'y');
    assert.ok(plan.args.includes('chip=esp32c3'));

    // A board without a layer of its own gets fieldlink's as it is.
    const plain = composeLayer(join(out, 'plain'), readTarget(sdk, 'esp32s3')!, join(ROOT, 'manifests/esp32/sdkconfig'));
    assert.deepEqual(plain.keptFromBoard, []);
    assert.equal(sdkconfigKeys(readFileSync(join(plain.directory, 'sdkconfig.defaults'), 'utf8')).get('CONFIG_PM_ENABLE'), 'y');
  } finally {
    rmSync(sdk, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('a simulator build on Linux without Mbed TLS, or with one built without tls-mbedtls-config.h, is one line naming the README section, exit 2', { skip: process.platform !== 'linux' && 'the Mbed TLS check is for Linux simulator builds' }, () => {
  const sdk = fakeSdk();
  const credentials = fakeCredentials();
  const stock = fakeMbedtls(true);
  try {
    const missing = build(['sim', '--credentials', credentials], bare({ MODDABLE: sdk }));
    assert.equal(missing.code, 2);
    assert.match(oneLine(missing.stderr), /\$FIELDLINK_MBEDTLS is not set .* — .*README, "Mbed TLS for the Moddable simulator"/);
    const unconfigured = build(['sim', '--credentials', credentials], bare({ MODDABLE: sdk, FIELDLINK_MBEDTLS: stock }));
    assert.equal(unconfigured.code, 2);
    assert.match(oneLine(unconfigured.stderr), /libtfpsacrypto\.a was built without hal\/moddable\/native\/tls-mbedtls-config\.h .* — rebuild with -DTF_PSA_CRYPTO_USER_CONFIG_FILE/);
    // ESP32 builds use ESP-IDF's Mbed TLS: no such check.
    assert.doesNotMatch(build(['esp32', '--credentials', credentials], bare({ MODDABLE: sdk })).stderr, /MBEDTLS/);
  } finally {
    for (const dir of [sdk, credentials, stock]) rmSync(dir, { recursive: true, force: true });
  }
});
