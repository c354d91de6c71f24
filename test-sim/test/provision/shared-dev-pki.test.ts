/**
 * The dev PKI in `.state/dev-pki` is shared by every process on the machine:
 * parallel test files, `npm start`, `npm run endpoint`. These tests pin that
 * sharing it cannot break a run: making it is serialised across processes, a
 * remake replaces it whole, and a running simulation keeps the credentials it
 * started with.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevPki, generateDevPki, issuedBy, readDevPki, writeDevPki, type Pki } from '../../../tools/provision/pki';
import { runSimulation } from '../../sim';
import { localWorld } from '../../net/world';
import { parseScenario } from '../../scenarios/scenario';

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'fieldlink-shared-pki-'));
});
after(async () => rm(base, { recursive: true, force: true }));

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** A second dev PKI, made once (RSA key generation is most of this file's CPU): another PKI's root, or the one remade under a run. */
let spareMade: Promise<Pki> | undefined;
const spare = () => (spareMade ??= generateDevPki());
const PKI_MODULE = new URL('../../../tools/provision/pki.ts', import.meta.url).pathname;

/** Runs ensureDevPki(dir) in a separate Node process; resolves to the root CA fingerprint it got. */
function ensureInChild(dir: string): Promise<string> {
  const code = `import { ensureDevPki } from ${JSON.stringify(PKI_MODULE)};
    import { X509Certificate } from 'node:crypto';
    const pki = await ensureDevPki(${JSON.stringify(dir)});
    process.stdout.write(new X509Certificate(pki.rootCa).fingerprint256);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (status) => (status === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${status}: ${err}`))));
  });
}

test('four processes that find no dev PKI at once all end up with the same one, and it is whole on disk', async () => {
  const dir = join(base, 'race');
  const got = await Promise.all([1, 2, 3, 4].map(() => ensureInChild(dir)));
  assert.equal(new Set(got).size, 1, `each process made its own PKI: ${got.join(', ')}`);
  const onDisk = await readDevPki(dir);
  assert.equal(fingerprint(onDisk.rootCa), got[0]);
  assert.ok(issuedBy(onDisk.intermediateCa, onDisk.rootCa) && issuedBy(onDisk.endpoint.cert, onDisk.intermediateCa));
  assert.ok(issuedBy(onDisk.devices[0].cert, onDisk.rootCa));
});

test('a usable dev PKI is reused as it is; one with too few devices is remade with more, never fewer', async () => {
  const dir = join(base, 'grow');
  const made = await ensureDevPki(dir);
  assert.equal(made.devices.length, 1);
  const again = await ensureDevPki(dir);
  assert.equal(fingerprint(again.rootCa), fingerprint(made.rootCa), 'reused, not remade');

  let reason = '';
  const grown = await ensureDevPki(dir, { devices: 3, onMake: (why) => (reason = why) });
  assert.equal(grown.devices.length, 3);
  assert.match(reason, /1 device certificates, 3 wanted/);
  assert.notEqual(fingerprint(grown.rootCa), fingerprint(made.rootCa));
  const small = await ensureDevPki(dir, { devices: 1 });
  assert.equal(small.devices.length, 3, 'asking for fewer devices keeps the larger PKI');
});

test('a dev PKI whose files come from two different PKIs is remade, not used', async () => {
  const dir = join(base, 'mixed');
  await writeDevPki(await generateDevPki(), dir);
  const other = await spare();
  await writeDevPki({ ...(await readDevPki(dir)), rootCa: other.rootCa }, dir);
  let reason = '';
  const pki = await ensureDevPki(dir, { onMake: (why) => (reason = why) });
  assert.match(reason, /do not belong together/);
  assert.ok(issuedBy(pki.intermediateCa, pki.rootCa));
  assert.equal(await readFile(join(dir, 'root-ca.pem'), 'utf8'), pki.rootCa);
});

test('a running simulation keeps its credentials when the dev PKI on disk is remade under it', async () => {
  const dir = join(base, 'running');
  await ensureDevPki(dir);
  const backup = join(base, 'running-before');
  await cp(dir, backup, { recursive: true });
  let remadeAt = -1;
  const { summary, events } = await runSimulation({
    engine: 'node',
    seed: 3,
    scenario: parseScenario({
      duration: '12m',
      config: { powerMode: 'always' },
      faults: [{ at: '6m', kind: 'wifi-down', for: '20s' }],
    }, 'pki-remade'),
    world: (scheduler) => localWorld(scheduler, { pkiDir: dir }),
    beforeRun(scheduler) {
      // Another process remakes the PKI in place (as `npm run provision` would) while the device is online.
      scheduler.at(3 * 60_000, async () => {
        await writeDevPki(await spare(), dir);
        remadeAt = scheduler.now;
      });
    },
  });
  assert.ok(remadeAt > 0, 'the PKI was remade during the run');
  const onDisk = await readDevPki(dir);
  const before = await readDevPki(backup);
  assert.notEqual(fingerprint(onDisk.rootCa), fingerprint(before.rootCa));
  const connected = events.filter((e) => e.event === 'tls.connected');
  assert.ok(connected.some((e) => e.t > 6 * 60_000), 'the device reconnected after the Wi-Fi loss');
  assert.deepEqual(summary.tls_failures, {}, 'no handshake failed');
  assert.equal(events.filter((e) => e.event === 'link.configuration-fault').length, 0);
});
