/**
 * Every way the device's TLS link must fail against an AWS-like endpoint, run
 * through `openSecureSocket` against `createLocalEndpoint`. Each case checks
 * the HAL category and that nothing reached MQTT: the client never got a byte
 * and the broker never saw a CONNECT.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalEndpoint, type LocalEndpointOptions } from '../../endpoint/endpoint';
import { openSecureSocket, type SecureSocketOptions } from '../../net/secure';
import { generateDevPki, type Pki } from '../../../tools/provision/pki';
import type { LinkError, LinkErrorCategory } from '../../../hal/types';
import { deviceSocketOptions } from '../endpoint/support';

let pki: Pki;
before(async () => {
  pki = await generateDevPki();
});

interface Outcome {
  error: LinkError | undefined;
  connected: boolean;
  bytes: number;
  brokerClients: number;
  handshakeFailures: Record<string, number>;
}

async function attempt(
  endpointOptions: (pki: Pki) => Partial<LocalEndpointOptions>,
  clientOptions: (pki: Pki) => Partial<SecureSocketOptions>,
): Promise<Outcome> {
  const endpoint = await createLocalEndpoint({ pki, ...endpointOptions(pki) });
  let brokerClients = 0;
  endpoint.broker.on('client', () => brokerClients++);
  try {
    const outcome = await new Promise<Omit<Outcome, 'brokerClients' | 'handshakeFailures'>>((resolve) => {
      let connected = false;
      let bytes = 0;
      const socket = openSecureSocket(
        deviceSocketOptions(pki, endpoint, clientOptions(pki)),
        {
          onConnect() {
            connected = true;
            // A CONNECT would go out here; a negative case must never get this far.
            socket.close();
            resolve({ error: undefined, connected, bytes });
          },
          onData(chunk) {
            bytes += chunk.length;
          },
          onError(error) {
            resolve({ error, connected, bytes });
          },
        },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the endpoint finish its side
    return { ...outcome, brokerClients, handshakeFailures: { ...endpoint.stats.handshakes.failed } as Record<string, number> };
  } finally {
    await endpoint.close();
  }
}

function expectFailure(outcome: Outcome, category: LinkErrorCategory): void {
  assert.equal(outcome.connected, false, 'onConnect must not fire');
  assert.equal(outcome.error?.category, category, outcome.error?.message);
  assert.equal(outcome.bytes, 0, 'onData must not fire');
  assert.equal(outcome.brokerClients, 0, 'the broker must not see a CONNECT');
  assert.doesNotMatch(outcome.error!.message, /\n|PRIVATE KEY/);
}

const none = () => ({});

test('the baseline connects (so every failure below is the variant, not the setup)', async () => {
  const outcome = await attempt(none, none);
  assert.equal(outcome.connected, true);
  assert.equal(outcome.error, undefined);
});

test('client trusts another root -> tls-cert', async () => {
  const outcome = await attempt(none, (p) => ({ ca: p.negative.otherRootCa }));
  expectFailure(outcome, 'tls-cert');
  assert.match(outcome.error!.message, /UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
});

test('expired server certificate -> tls-cert', async () => {
  const outcome = await attempt((p) => ({ serverCredentials: p.negative.expiredEndpoint }), none);
  expectFailure(outcome, 'tls-cert');
  assert.match(outcome.error!.message, /CERT_HAS_EXPIRED/);
});

test('server certificate for another name -> tls-cert', async () => {
  const outcome = await attempt((p) => ({ serverCredentials: p.negative.otherNameEndpoint }), none);
  expectFailure(outcome, 'tls-cert');
  assert.match(outcome.error!.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('server that does no ALPN -> alpn', async () => {
  const outcome = await attempt(() => ({ serverAlpn: false }), none);
  expectFailure(outcome, 'alpn');
});

test('server configured for another ALPN -> tls-alert (Node answers no_application_protocol; it cannot select an unoffered one)', async () => {
  const outcome = await attempt(() => ({ serverAlpn: ['mqtt'] }), none);
  expectFailure(outcome, 'tls-alert');
  assert.match(outcome.error!.message, /NO_APPLICATION_PROTOCOL/);
  assert.equal(outcome.handshakeFailures['server-alpn'], 1);
});

test('no client certificate -> tls-alert (handshake_failure)', async () => {
  const outcome = await attempt(none, () => ({ cert: '', key: '' }));
  expectFailure(outcome, 'tls-alert');
  assert.match(outcome.error!.message, /HANDSHAKE_FAILURE/);
  assert.equal(outcome.handshakeFailures['no-client-cert'], 1);
});

test('client certificate from another CA -> tls-alert (unknown_ca)', async () => {
  const outcome = await attempt(none, (p) => ({ cert: p.negative.otherCaDevice.cert }));
  expectFailure(outcome, 'tls-alert');
  assert.match(outcome.error!.message, /UNKNOWN_CA/);
  assert.equal(outcome.handshakeFailures['client-cert-untrusted'], 1);
});

test('server offering only TLS 1.0/1.1 -> tls-handshake (the device refuses the version)', async () => {
  const outcome = await attempt(() => ({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), none);
  expectFailure(outcome, 'tls-handshake');
  assert.match(outcome.error!.message, /UNSUPPORTED_PROTOCOL/);
});

test('SNI that matches the wildcard but is not the endpoint name -> tls-alert (unrecognized_name)', async () => {
  const outcome = await attempt(none, () => ({ serverName: 'other-ats.iot.sim-local-1.amazonaws.com' }));
  expectFailure(outcome, 'tls-alert');
  assert.match(outcome.error!.message, /UNRECOGNIZED_NAME/);
  assert.equal(outcome.handshakeFailures.sni, 1);
});
