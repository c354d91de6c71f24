/**
 * The provision CLI as a user meets it: what it writes, and that every failure
 * is one line on stderr with exit 2, no stack trace and no key material.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateDevPki } from '../../../tools/provision/pki';
import { writeSecureAware } from '../../../tools/provision/pem';
import { runProvision } from '../../../tools/provision/cli';

const root = new URL('../../../', import.meta.url).pathname;
let dir: string;
const ENDPOINT = 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fieldlink-provision-'));
  await generateDevPki({ out: join(dir, 'pki'), devices: 2 });
  await generateDevPki({ out: join(dir, 'old'), now: new Date(Date.now() - 60 * 86_400_000) }); // expired
  await generateDevPki({ out: join(dir, 'ec'), keyType: 'ec' });
  await writeFile(join(dir, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  // A P-384 device key: a valid certificate the device cannot sign with.
  const alg = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=p384-thing',
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
  });
  await writeFile(join(dir, 'p384.pem'), cert.toString('pem'));
  await writeFile(join(dir, 'p384.key'), x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a process (`node --import tsx tools/provision/main.ts`): exit status and both streams. */
function spawnProvision(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'tools/provision/main.ts', ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/**
 * The same commands in this process (`runProvision`, what main.ts runs): the cases below that
 * check one command's output. A few cases spawn the real process to hold main.ts to the same
 * exit status and streams.
 */
async function provision(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runProvision(args, { out: (text) => (stdout += text), err: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

const p = (...parts: string[]) => join(dir, ...parts);

function importArgs(overrides: Record<string, string> = {}): string[] {
  const values: Record<string, string> = {
    endpoint: ENDPOINT,
    cert: p('pki', 'device.pem'),
    key: p('pki', 'device.key'),
    ca: p('pki', 'root-ca.pem'),
    out: p('out-ok'),
    ...overrides,
  };
  return ['import', ...Object.entries(values).flatMap(([k, v]) => [`--${k}`, v])];
}

/** One line, `provision: <what> — <todo>`, exit 2, no stack, no key. */
function assertOneLineFailure(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 2, run.stderr);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /^provision: .+ — .+$/);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(run.stderr + run.stdout, /PRIVATE KEY|\n\s+at |MII[A-Za-z0-9+/]{20}/);
}

// The cases are independent (own output directories), so they run side by side.
describe('provision CLI', { concurrency: true }, () => {
  test('--help works for the tool and each command', async () => {
    const tool = await spawnProvision('--help');
    assert.equal(tool.code, 0);
    assert.match(tool.stdout, /dev-pki/);
    assert.match((await provision('dev-pki', '--help')).stdout, /--devices N/);
    const help = await provision('import', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--endpoint HOST/);
  });

  test('dev-pki writes and lists its files', async () => {
    const run = await spawnProvision('dev-pki', '--out', p('cli-pki'), '--endpoint', 'x-ats.iot.sim-test-2.amazonaws.com');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /wrote .*device\.key\.der/);
    assert.match(run.stdout, /endpoint x-ats\.iot\.sim-test-2\.amazonaws\.com/);
    assert.equal((await stat(p('cli-pki', 'endpoint.key'))).mode & 0o777, 0o600);
  });

  test('import accepts matching material and writes DER, PEM and config.json', async () => {
    const run = await spawnProvision(...importArgs());
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    for (const name of ['ca.der', 'device.der', 'device.key.der', 'config.json']) assert.match(run.stdout, new RegExp(`wrote .*${name.replace('.', '\\.')}`));
    assert.deepEqual(JSON.parse(await readFile(p('out-ok', 'config.json'), 'utf8')), { endpoint: ENDPOINT, thing: 'sim-thing-1', port: 443 });
    assert.equal((await stat(p('out-ok', 'device.key.der'))).mode & 0o777, 0o600);
    assert.doesNotMatch(run.stdout, /PRIVATE KEY/);
  });

  test('import takes --thing over the CN', async () => {
    const run = await provision(...importArgs({ thing: 'kitchen-sensor', out: p('out-thing') }));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(await readFile(p('out-thing', 'config.json'), 'utf8')).thing, 'kitchen-sensor');
  });

  test('import rejects a key that does not match the certificate', async () => {
    const run = await provision(...importArgs({ key: p('pki', 'device-2.key'), out: p('out-mismatch') }));
    assertOneLineFailure(run, /does not match/);
    await assert.rejects(stat(p('out-mismatch')));
  });

  test('import rejects an expired certificate', async () => {
    const run = await provision(...importArgs({ cert: p('old', 'device.pem'), key: p('old', 'device.key'), out: p('out-expired') }));
    assertOneLineFailure(run, /--cert .* expired on/);
  });

  test('import rejects a missing file', async () => {
    assertOneLineFailure(await provision(...importArgs({ ca: p('nope.pem') })), /cannot read --ca .*nope\.pem \(no such file\)/);
  });

  test('import rejects unparsable PEM, including a key given as certificate, without echoing it', async () => {
    assertOneLineFailure(await provision(...importArgs({ cert: p('garbage.pem') })), /is not a PEM certificate/);
    assertOneLineFailure(await provision(...importArgs({ cert: p('pki', 'device.key') })), /is not a PEM certificate/);
    assertOneLineFailure(await provision(...importArgs({ key: p('pki', 'device.pem') })), /is not a PEM private key/);
  });

  test('import rejects a thing name AWS would not take as client id', async () => {
    assertOneLineFailure(await provision(...importArgs({ thing: '$reserved' })), /starts with "\$"/);
    assertOneLineFailure(await provision(...importArgs({ thing: 'x'.repeat(129) })), /129 bytes/);
  });

  test('bad options and missing required ones are one line too', async () => {
    assertOneLineFailure(await spawnProvision('import', '--bogus'), /Unknown option '--bogus'/);
    assertOneLineFailure(await provision('import', '--cert', 'x'), /--endpoint is required/);
    assertOneLineFailure(await provision('dev-pki', '--devices', '0'), /--devices must be/);
    assertOneLineFailure(await provision('frobnicate'), /unknown command/);
  });

  test('an endpoint that is not <prefix>-ats.iot.<region>.amazonaws.com is a warning, not an error', async () => {
    const run = await provision(...importArgs({ endpoint: 'https://example.com:8883', out: p('out-warn') }));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^provision: warning: endpoint "https:\/\/example\.com:8883" does not look like <prefix>-ats\.iot\.<region>\.amazonaws\.com/);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1);
  });

  test('dev-pki --key-type ec makes ECDSA P-256 device keys, and import takes them', async () => {
    const made = await provision('dev-pki', '--out', p('cli-ec'), '--key-type', 'ec');
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /device keys ECDSA P-256/);
    const run = await provision(...importArgs({ cert: p('ec', 'device.pem'), key: p('ec', 'device.key'), ca: p('ec', 'root-ca.pem'), out: p('out-ec') }));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const { createPrivateKey } = await import('node:crypto');
    const key = createPrivateKey({ key: await readFile(p('out-ec', 'device.key.der')), format: 'der', type: 'pkcs8' });
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal((await stat(p('out-ec', 'device.key.der'))).mode & 0o777, 0o600);
  });

  test('dev-pki refuses a key type it cannot make', async () => {
    assertOneLineFailure(await provision('dev-pki', '--out', p('cli-dsa'), '--key-type', 'dsa'), /--key-type must be rsa or ec, got "dsa"/);
    await assert.rejects(stat(p('cli-dsa')));
  });

  test('import refuses a key the device cannot sign with (EC P-384), writing nothing', async () => {
    const run = await provision(...importArgs({ cert: p('p384.pem'), key: p('p384.key'), out: p('out-p384') }));
    assertOneLineFailure(run, /--key .*p384\.key is an EC key on secp384r1; the device signs with RSA \(2048 bits or more\) or ECDSA P-256 only/);
    await assert.rejects(stat(p('out-p384')));
  });

  test('import refuses a --ca that is not a CA certificate, writing nothing', async () => {
    const run = await provision(...importArgs({ ca: p('pki', 'device-2.pem'), out: p('out-notca') }));
    assertOneLineFailure(run, /--ca .*device-2\.pem is not a CA certificate/);
    await assert.rejects(stat(p('out-notca')));
  });

  test('dev-pki --out refuses a directory that holds anything but a dev PKI, and deletes nothing', async () => {
    await mkdir(p('work'), { recursive: true });
    await writeFile(p('work', 'notes.txt'), 'mine');
    assertOneLineFailure(await provision('dev-pki', '--out', p('work')), /--out .*work is not empty and holds notes\.txt, which is not part of a dev PKI/);
    assert.equal(await readFile(p('work', 'notes.txt'), 'utf8'), 'mine');
    // A dev PKI with a stranger in it is not a dev PKI either.
    await generateDevPki({ out: p('mixed') });
    await writeFile(p('mixed', 'config.json'), '{}');
    assertOneLineFailure(await provision('dev-pki', '--out', p('mixed')), /holds config\.json/);
    assert.equal(await readFile(p('mixed', 'config.json'), 'utf8'), '{}');
    // A dev PKI is replaced whole.
    const before = await readFile(p('pki', 'root-ca.pem'), 'utf8');
    await generateDevPki({ out: p('replace-me') });
    const again = await provision('dev-pki', '--out', p('replace-me'));
    assert.equal(again.code, 0, again.stderr);
    assert.notEqual(await readFile(p('replace-me', 'root-ca.pem'), 'utf8'), before);
  });
});

test('secrets are created 0600 from the first byte and a planted symlink is replaced, not followed', async () => {
  const target = p('victim.txt');
  await writeFile(target, 'untouched', { mode: 0o644 });
  await mkdir(p('sym'), { recursive: true });
  await symlink(target, p('sym', 'device.key'));
  await writeSecureAware(p('sym', 'device.key'), 'secret bytes', 'secret');
  assert.equal(await readFile(target, 'utf8'), 'untouched');
  assert.equal((await lstat(p('sym', 'device.key'))).isSymbolicLink(), false);
  assert.equal((await stat(p('sym', 'device.key'))).mode & 0o777, 0o600);
  assert.equal(await readFile(p('sym', 'device.key'), 'utf8'), 'secret bytes');
  await assert.rejects(readlink(p('sym', 'device.key')));
});
