/**
 * The endpoint's handshake rules, seen from plain Node TLS clients (not the
 * device's socket), including what the device never does: omit SNI or ALPN,
 * or speak TLS 1.3.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { createLocalEndpoint, type LocalEndpoint } from '../../endpoint/endpoint';
import {
  Alert,
  checkClientHello,
  ClientHandshakeInspector,
  parseClientHello,
  verifyClientChain,
  type HandshakePolicy,
} from '../../endpoint/tls-inspect';
import { generateDevPki, pemToDer, type Pki } from '../../../tools/provision/pki';
import { MqttTestClient } from './support';

let pki: Pki;
let endpoint: LocalEndpoint;
let brokerClients = 0;

before(async () => {
  pki = await generateDevPki();
  endpoint = await createLocalEndpoint({ pki });
  endpoint.broker.on('client', () => brokerClients++);
});
after(async () => {
  await endpoint.close();
});

/** Connects with raw tls options; resolves with the error code, or 'connected'. */
function handshake(extra: tls.ConnectionOptions): Promise<{ code: string; socket?: tls.TLSSocket }> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: endpoint.host,
      port: endpoint.port,
      ca: pki.rootCa,
      cert: pki.devices[0].cert,
      key: pki.devices[0].key,
      maxVersion: 'TLSv1.2',
      ...extra,
    });
    socket.once('secureConnect', () => resolve({ code: 'connected', socket }));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code ?? error.message }));
  });
}

/** The first bytes a Node TLS client sends: its ClientHello record(s). */
async function captureClientHello(extra: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const captured = new Promise<Buffer>((resolve) =>
    server.once('connection', (socket) => socket.once('data', (data: Buffer) => (resolve(data), socket.destroy()))),
  );
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ...extra });
  client.on('error', () => {});
  const bytes = await captured;
  client.destroy();
  server.close();
  return bytes;
}

test('a ClientHello is parsed for SNI and ALPN', async () => {
  const record = await captureClientHello({ servername: 'a-ats.iot.x-y-1.amazonaws.com', ALPNProtocols: ['x-amzn-mqtt-ca', 'mqtt'] });
  assert.equal(record[0], 22);
  const hello = parseClientHello(record.subarray(9, 9 + record.readUIntBE(6, 3)));
  assert.equal(hello.serverName, 'a-ats.iot.x-y-1.amazonaws.com');
  assert.deepEqual(hello.alpn, ['x-amzn-mqtt-ca', 'mqtt']);
  assert.equal(hello.version, 0x0303);
});

test('the inspector holds a ClientHello split across reads until it is whole, then forwards it unchanged', async () => {
  const record = await captureClientHello({ servername: pki.endpointName, ALPNProtocols: ['x-amzn-mqtt-ca'] });
  const policy: HandshakePolicy = { serverName: pki.endpointName, requiredAlpn: 'x-amzn-mqtt-ca', clientCas: [], wallClock: () => new Date() };
  const inspector = new ClientHandshakeInspector(policy);
  const first = inspector.feed(record.subarray(0, 3));
  const second = inspector.feed(record.subarray(3, 40));
  const third = inspector.feed(record.subarray(40));
  assert.deepEqual([first, second], [{ kind: 'forward', bytes: [] }, { kind: 'forward', bytes: [] }]);
  assert.equal(third.kind, 'forward');
  assert.deepEqual(Buffer.concat(third.kind === 'forward' ? third.bytes : []), record);
});

test('checkClientHello: wrong or missing SNI -> unrecognized_name; missing ALPN -> no_application_protocol', () => {
  const policy: HandshakePolicy = { serverName: 'e-ats.iot.r-1.amazonaws.com', requiredAlpn: 'x-amzn-mqtt-ca', clientCas: [], wallClock: () => new Date() };
  assert.equal(checkClientHello({ version: 0x303, serverName: 'E-ATS.iot.r-1.amazonaws.com.', alpn: ['x-amzn-mqtt-ca'] }, policy), undefined);
  assert.equal(checkClientHello({ version: 0x303, serverName: undefined, alpn: ['x-amzn-mqtt-ca'] }, policy)?.alert, Alert.unrecognizedName);
  assert.equal(checkClientHello({ version: 0x303, serverName: 'f-ats.iot.r-1.amazonaws.com', alpn: ['x-amzn-mqtt-ca'] }, policy)?.reason, 'sni');
  assert.equal(checkClientHello({ version: 0x303, serverName: 'e-ats.iot.r-1.amazonaws.com', alpn: undefined }, policy)?.alert, Alert.noApplicationProtocol);
  assert.equal(checkClientHello({ version: 0x303, serverName: 'e-ats.iot.r-1.amazonaws.com', alpn: ['mqtt'] }, policy)?.reason, 'alpn');
});

test('verifyClientChain: trusted, foreign, expired, empty', async () => {
  const root = [new X509Certificate(pki.rootCa)];
  const der = (pem: string) => Buffer.from(pemToDer(pem));
  assert.equal(verifyClientChain([der(pki.devices[0].cert)], root, new Date()), undefined);
  assert.equal(verifyClientChain([der(pki.negative.otherCaDevice.cert)], root, new Date())?.alert, Alert.unknownCa);
  assert.equal(verifyClientChain([der(pki.devices[0].cert)], root, new Date(Date.now() + 90 * 86_400_000))?.alert, Alert.certificateExpired);
  assert.equal(verifyClientChain([], root, new Date())?.alert, Alert.handshakeFailure);
  assert.equal(verifyClientChain([Buffer.from('junk')], root, new Date())?.alert, Alert.badCertificate);
});

test('no SNI at all -> unrecognized_name alert', async () => {
  const { code } = await handshake({ ALPNProtocols: ['x-amzn-mqtt-ca'] }); // connecting to an IP sends no SNI
  assert.equal(code, 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
});

test('no ALPN offered -> no_application_protocol alert', async () => {
  const { code } = await handshake({ servername: endpoint.serverName });
  assert.equal(code, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
  assert.equal(endpoint.stats.handshakes.failed.alpn, 1);
});

test('an expired device certificate -> certificate_expired alert', async () => {
  const old = await generateDevPki({ now: new Date(Date.now() - 60 * 86_400_000) });
  const trusting = await createLocalEndpoint({ pki, clientCa: `${pki.rootCa}\n${old.rootCa}` });
  try {
    const code = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host: trusting.host,
        port: trusting.port,
        servername: trusting.serverName,
        ALPNProtocols: ['x-amzn-mqtt-ca'],
        ca: pki.rootCa,
        cert: old.devices[0].cert,
        key: old.devices[0].key,
        maxVersion: 'TLSv1.2',
      });
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? ''));
    });
    assert.equal(code, 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED');
    assert.equal(trusting.stats.handshakes.failed['client-cert-expired'], 1);
  } finally {
    await trusting.close();
  }
});

test('TLS 1.3: a foreign device certificate is dropped right after the handshake, before MQTT', async () => {
  const before = brokerClients;
  const { code, socket } = await handshake({ servername: endpoint.serverName, ALPNProtocols: ['x-amzn-mqtt-ca'], maxVersion: 'TLSv1.3', cert: pki.negative.otherCaDevice.cert });
  // In TLS 1.3 the client finishes before the server has judged its certificate.
  if (socket) {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await closed;
  } else {
    assert.match(code, /ECONNRESET|UNKNOWN_CA|CERTIFICATE/);
  }
  assert.equal(brokerClients, before);
  assert.ok((endpoint.stats.handshakes.failed['client-cert-untrusted'] ?? 0) >= 1);
});

test('TLS 1.3 with a good certificate carries MQTT', async () => {
  const client = await MqttTestClient.open(endpoint, pki, { maxVersion: 'TLSv1.3' });
  assert.equal(client.socket.getProtocol(), 'TLSv1.3');
  assert.equal((await client.connect('tls13-thing'))?.cmd, 'connack');
  client.close();
});
