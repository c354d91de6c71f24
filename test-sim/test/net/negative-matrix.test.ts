/**
 * The TLS negative matrix in the XS simulator: every impostor of
 * impostors.ts (the same cases the Moddable simulator runs against the
 * device's Mbed TLS, test-sim/test/moddable/tls-matrix.test.ts), reached
 * through `openSecureSocket`, the host side of hal/sim's `network.openSecure`.
 * Each case checks the HAL category (and the certificate reason), that the
 * device side never got a byte, and on the server side that no MQTT byte
 * arrived and the broker accepted no CONNECT.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSecureSocket, type SecureSocketOptions } from '../../net/secure';
import type { LinkError } from '../../../hal/types';
import { deviceSocketOptions, until } from '../endpoint/support';
import { makeFixturePki, NEGATIVE_CASES, startImpostor, type FixturePki, type NegativeCase } from './impostors';

let pki: FixturePki;
before(async () => {
  pki = await makeFixturePki();
});

interface Outcome {
  error: LinkError | undefined;
  connected: boolean;
  bytes: number;
  mqttBytes: number;
  connects: number;
  handshakeFailures: Record<string, number>;
}

async function attempt(testCase: Pick<NegativeCase, 'endpoint' | 'rewriteSelectedAlpn'>, client: (p: FixturePki) => Partial<SecureSocketOptions> = () => ({})): Promise<Outcome> {
  const impostor = await startImpostor(pki, testCase);
  try {
    const outcome = await new Promise<Pick<Outcome, 'error' | 'connected' | 'bytes'>>((resolve) => {
      let bytes = 0;
      const socket = openSecureSocket(deviceSocketOptions(pki, impostor, client(pki)), {
        onConnect() {
          // A CONNECT would go out here; a negative case must never get this far.
          socket.close();
          resolve({ error: undefined, connected: true, bytes });
        },
        onData(chunk) {
          bytes += chunk.length;
        },
        onError(error) {
          resolve({ error, connected: false, bytes });
        },
      });
    });
    await until(() => impostor.endpoint.openConnections() === 0, "the endpoint's side of the connection to close");
    return {
      ...outcome,
      mqttBytes: impostor.mqttBytes(),
      connects: impostor.connects(),
      handshakeFailures: { ...impostor.endpoint.stats.handshakes.failed } as Record<string, number>,
    };
  } finally {
    await impostor.close();
  }
}

function expectRefused(outcome: Outcome, expect: NegativeCase['expect']): void {
  assert.equal(outcome.connected, false, 'onConnect must not fire');
  assert.equal(outcome.error?.category, expect.category, outcome.error?.message);
  if (expect.reason) assert.equal(outcome.error?.reason, expect.reason, outcome.error?.message);
  assert.equal(outcome.bytes, 0, 'onData must not fire');
  assert.equal(outcome.mqttBytes, 0, 'no MQTT byte may reach the server');
  assert.equal(outcome.connects, 0, 'the broker must not see a CONNECT');
  assert.doesNotMatch(outcome.error!.message, /\n|PRIVATE KEY/);
}

test('the baseline connects with the RSA and the ECDSA P-256 device (so every failure below is the variant, not the setup)', async () => {
  for (const device of [pki.devices[0], pki.ecDevice]) {
    const outcome = await attempt({ endpoint: () => ({}) }, () => ({ cert: device.cert, key: device.key }));
    assert.equal(outcome.error, undefined, outcome.error?.message);
    assert.equal(outcome.connected, true);
  }
});

for (const testCase of NEGATIVE_CASES) {
  test(`${testCase.name} -> ${testCase.expect.category}${testCase.expect.reason ? ` (${testCase.expect.reason})` : ''}`, async () => {
    expectRefused(await attempt(testCase), testCase.expect);
  });
}

// What the endpoint refuses on its own, as AWS does: these test it as much as the device.

test('client trusts another root -> tls-cert (untrusted)', async () => {
  const outcome = await attempt({ endpoint: () => ({}) }, (p) => ({ ca: p.negative.otherRootCa }));
  expectRefused(outcome, { category: 'tls-cert', reason: 'untrusted' });
  assert.match(outcome.error!.message, /UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
});

test('server configured for another ALPN -> tls-alert (no_application_protocol: Node cannot select an unoffered one)', async () => {
  const outcome = await attempt({ endpoint: () => ({ serverAlpn: ['mqtt'] }) });
  expectRefused(outcome, { category: 'tls-alert' });
  assert.match(outcome.error!.message, /NO_APPLICATION_PROTOCOL/);
  assert.equal(outcome.handshakeFailures['server-alpn'], 1);
});

test('no client certificate -> tls-alert (handshake_failure)', async () => {
  const outcome = await attempt({ endpoint: () => ({}) }, () => ({ cert: '', key: '' }));
  expectRefused(outcome, { category: 'tls-alert' });
  assert.match(outcome.error!.message, /HANDSHAKE_FAILURE/);
  assert.equal(outcome.handshakeFailures['no-client-cert'], 1);
});

test('client certificate from another CA -> tls-alert (unknown_ca)', async () => {
  const outcome = await attempt({ endpoint: () => ({}) }, (p) => ({ cert: p.negative.otherCaDevice.cert }));
  expectRefused(outcome, { category: 'tls-alert' });
  assert.match(outcome.error!.message, /UNKNOWN_CA/);
  assert.equal(outcome.handshakeFailures['client-cert-untrusted'], 1);
});

test('SNI that matches the wildcard but is not the endpoint name -> tls-alert (unrecognized_name)', async () => {
  const outcome = await attempt({ endpoint: () => ({}) }, () => ({ serverName: 'other-ats.iot.sim-local-1.amazonaws.com' }));
  expectRefused(outcome, { category: 'tls-alert' });
  assert.match(outcome.error!.message, /UNRECOGNIZED_NAME/);
  assert.equal(outcome.handshakeFailures.sni, 1);
});
