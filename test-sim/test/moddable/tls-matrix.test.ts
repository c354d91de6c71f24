/**
 * The TLS negative matrix in the Moddable simulator: the device's Mbed TLS
 * (hal/moddable/native/tls, through the real Moddable HAL in the TLS probe)
 * against every impostor of test-sim/test/net/impostors.ts, the same cases
 * the XS simulator's negative-matrix.test.ts runs. Each must be refused with
 * its typed category (and certificate reason) while the server side sees no
 * MQTT byte and no CONNECT, although the probe would send a CONNECT the
 * moment a handshake completed. The baseline (RSA and ECDSA P-256 device
 * keys) connects, gets CONNACK 0 and ends with close_notify.
 *
 * Skips with one line without $MODDABLE, xvfb or $FIELDLINK_MBEDTLS
 * (mcsim-harness.ts). The first build takes minutes; later runs are incremental.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalEndpoint, type LocalEndpoint } from '../../endpoint/endpoint';
import { makeFixturePki, NEGATIVE_CASES, startImpostor, type FixturePki, type Impostor } from '../net/impostors';
import { flatManifest, Mcsim, skipReason } from './mcsim-harness';
import { EC_DEVICE, launchProbe, RSA_DEVICE, type ProbeControl, type OpenResult } from './tls-probe-driver';

const skip = skipReason();
const NAME = 'tls-matrix';

let pki: FixturePki;
let control: ProbeControl;
let sim: Mcsim | undefined;
let good: LocalEndpoint;
const impostors = new Map<string, Impostor>();
const results = new Map<string, OpenResult>();
let baseline: { rsa: OpenResult; ec: OpenResult };

before(async () => {
  if (skip) return;
  pki = await makeFixturePki();
  good = await createLocalEndpoint({ pki, sweepIntervalMs: 0 });
  for (const testCase of NEGATIVE_CASES) impostors.set(testCase.name, await startImpostor(pki, testCase));
  const probe = await launchProbe(NAME, pki);
  ({ control, sim } = probe);
  assert.equal(probe.hello.hello, 'power-on');

  const open = (port: number, credentials: object, clientId: string) =>
    control.open(sim as Mcsim, { host: '127.0.0.1', port, serverName: pki.endpointName, credentials, clientId });
  baseline = {
    rsa: await open(good.port, RSA_DEVICE, 'sim-thing-1'),
    ec: await open(good.port, EC_DEVICE, 'sim-thing-ec'),
  };
  for (const testCase of NEGATIVE_CASES) {
    results.set(testCase.name, await open((impostors.get(testCase.name) as Impostor).port, RSA_DEVICE, 'sim-thing-1'));
  }
  control.send({ op: 'done' });
}, { timeout: 1_200_000 });

after(async () => {
  sim?.stop();
  for (const impostor of impostors.values()) await impostor.close();
  await good?.close();
  await control?.close();
});

test('baseline: RSA-2048 and ECDSA P-256 device keys connect over TLS 1.2 with ALPN, get CONNACK 0 and end cleanly', { skip }, () => {
  for (const [name, result] of Object.entries(baseline)) {
    assert.equal(result.error, undefined, `${name}: ${result.error?.message}`);
    assert.equal(result.connected?.version, 'TLSv1.2', name);
    assert.equal(result.connected?.alpn, 'x-amzn-mqtt-ca', name);
    assert.equal(result.connack, 0, name);
    assert.equal(result.ended, true, name);
  }
  assert.equal(good.stats.connects, 2);
});

test('the JavaScript TLS is not in the build: mcconfig merged neither securesocket nor modules/crypt/ssl', { skip }, () => {
  const flat = JSON.stringify(flatManifest(NAME, 'tls-probe'));
  assert.doesNotMatch(flat, /securesocket|crypt\/ssl|ssl\/session/);
  assert.match(flat, /hal\/moddable\/native\/tls/);
  assert.ok((sim?.events() ?? []).some((e) => e.event === 'tls.measured'), 'the Mbed TLS binding reported its measurements');
});

for (const testCase of NEGATIVE_CASES) {
  test(`${testCase.name} -> ${testCase.expect.category}${testCase.expect.reason ? ` (${testCase.expect.reason})` : ''}`, { skip }, () => {
    const result = results.get(testCase.name) as OpenResult;
    const impostor = impostors.get(testCase.name) as Impostor;
    assert.equal(result.connected, undefined, `the handshake must not complete: ${JSON.stringify(result)}`);
    assert.equal(result.error?.category, testCase.expect.category, result.error?.message);
    if (testCase.expect.reason) assert.equal(result.error?.reason, testCase.expect.reason, result.error?.message);
    assert.equal(impostor.mqttBytes(), 0, 'no MQTT byte may reach the server');
    assert.equal(impostor.connects(), 0, 'the broker must not see a CONNECT');
    assert.doesNotMatch(result.error?.message ?? '', /\n|PRIVATE KEY/);
  });
}
