/**
 * The provision CLI as a user meets it: what it writes, and that every failure
 * is one line on stderr with exit 2, no stack trace and no key material.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDevPki } from '../../../tools/provision/pki';

const root = new URL('../../../', import.meta.url).pathname;
let dir: string;
const ENDPOINT = 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fieldlink-provision-'));
  await generateDevPki({ out: join(dir, 'pki'), devices: 2 });
  await generateDevPki({ out: join(dir, 'old'), now: new Date(Date.now() - 60 * 86_400_000) }); // expired
  await writeFile(join(dir, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function provision(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'tools/provision/main.ts', ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
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
    assert.match((await provision('--help')).stdout, /dev-pki/);
    assert.match((await provision('dev-pki', '--help')).stdout, /--devices N/);
    const help = await provision('import', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--endpoint HOST/);
  });

  test('dev-pki writes and lists its files', async () => {
    const run = await provision('dev-pki', '--out', p('cli-pki'), '--endpoint', 'x-ats.iot.sim-test-2.amazonaws.com');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /wrote .*device\.key\.der/);
    assert.match(run.stdout, /endpoint x-ats\.iot\.sim-test-2\.amazonaws\.com/);
    assert.equal((await stat(p('cli-pki', 'endpoint.key'))).mode & 0o777, 0o600);
  });

  test('import accepts matching material and writes DER, PEM and config.json', async () => {
    const run = await provision(...importArgs());
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
    assertOneLineFailure(await provision('import', '--bogus'), /Unknown option '--bogus'/);
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
});
