/**
 * openSecureSocket end to end: an MQTT CONNECT gets its CONNACK from the local
 * endpoint and from a real mosquitto (TLS, require_certificate), and the
 * failures outside TLS land in their categories.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import { generate, parser, type Packet } from 'mqtt-packet';
import { createLocalEndpoint, type LocalEndpoint } from '../../endpoint/endpoint';
import { findMosquitto, MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from '../../brokers/mosquitto';
import { checkChainDates, openSecureSocket, TlsSessionCache, type SecureConnectInfo, type SecureSocket, type SecureSocketOptions } from '../../net/secure';
import { generateDevPki, type Pki } from '../../../tools/provision/pki';
import type { LinkError } from '../../../hal/types';
import { deviceSocketOptions, until } from '../endpoint/support';

let pki: Pki;
let endpoint: LocalEndpoint;

before(async () => {
  pki = await generateDevPki();
  endpoint = await createLocalEndpoint({ pki });
});
after(async () => {
  await endpoint.close();
});

function options(overrides: Partial<SecureSocketOptions> = {}): SecureSocketOptions {
  return deviceSocketOptions(pki, endpoint, overrides);
}

interface Session {
  info?: SecureConnectInfo;
  packets: Packet[];
  errors: LinkError[];
  socket: SecureSocket;
  settled: Promise<void>;
}

/** Opens a socket; on connect sends CONNECT for `clientId`; settles on CONNACK or error. */
function mqttSession(opts: SecureSocketOptions, clientId: string): Session {
  const packets: Packet[] = [];
  const errors: LinkError[] = [];
  const decode = parser();
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  decode.on('packet', (packet) => {
    packets.push(packet);
    if (packet.cmd === 'connack') settle();
  });
  const session: Session = { packets, errors, settled, socket: undefined as unknown as SecureSocket };
  session.socket = openSecureSocket(opts, {
    onConnect(info) {
      session.info = info;
      session.socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60 }));
    },
    onData(bytes) {
      decode.parse(Buffer.from(bytes));
    },
    onError(error) {
      errors.push(error);
      settle();
    },
  });
  return session;
}

test('CONNECT over openSecureSocket gets CONNACK 0 from the local endpoint, with ALPN and TLS 1.2', async () => {
  const s = mqttSession(options(), 'sim-thing-1');
  await s.settled;
  assert.deepEqual(s.errors, []);
  assert.deepEqual(s.info, { alpn: 'x-amzn-mqtt-ca', resumed: false, protocol: 'TLSv1.2' });
  assert.equal(s.packets[0]?.cmd, 'connack');
  assert.equal((s.packets[0] as { returnCode: number }).returnCode, 0);
  s.socket.close();
});

test('with a session cache the second handshake resumes, as Moddable does with its single entry', async () => {
  const sessionCache = new TlsSessionCache();
  const first = mqttSession(options({ sessionCache }), 'resume-1');
  await first.settled;
  first.socket.close();
  assert.equal(first.info?.resumed, false);
  const second = mqttSession(options({ sessionCache }), 'resume-2');
  await second.settled;
  second.socket.close();
  assert.deepEqual(second.errors, []);
  assert.equal(second.info?.resumed, true);
  const other = mqttSession(options(), 'resume-3');
  await other.settled;
  other.socket.close();
  assert.equal(other.info?.resumed, false);
});

test('the peer closing an open stream is `closed`, reported once, and close() afterwards is quiet', async () => {
  // A `$` client id makes the endpoint drop the connection after the handshake.
  const s = mqttSession(options(), '$not-allowed');
  await s.settled;
  await until(() => endpoint.openConnections() === 0, "the endpoint's side of the connection to close");
  assert.equal(s.errors.length, 1);
  assert.equal(s.errors[0].category, 'closed');
  assert.doesNotThrow(() => s.socket.write(new Uint8Array([0xc0, 0]))); // after onError: ignored
  s.socket.close();
  s.socket.close();
  assert.equal(s.errors.length, 1);
});

test('write before onConnect and after close() throw; close() before connect silences the socket', async () => {
  let fired = 0;
  const socket = openSecureSocket(options(), { onConnect: () => fired++, onData: () => fired++, onError: () => fired++ });
  assert.throws(() => socket.write(new Uint8Array([1])), /before onConnect/);
  socket.close();
  assert.throws(() => socket.write(new Uint8Array([1])), /after close/);
  // Whether or not the TCP connection reached the endpoint, it is over once the endpoint holds none.
  await until(() => endpoint.openConnections() === 0, "the endpoint's side of the connection to close");
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(fired, 0);
});

test('connection refused -> tcp', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const s = mqttSession(options({ port }), 'x');
  await s.settled;
  assert.equal(s.errors[0]?.category, 'tcp');
});

test('a server that accepts TCP but never answers -> timeout', async () => {
  const held: net.Socket[] = [];
  const server = net.createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const started = Date.now();
  const s = mqttSession(options({ port, timeoutMs: 300 }), 'x');
  await s.settled;
  assert.equal(s.errors[0]?.category, 'timeout');
  // The socket's own 300 ms deadline fired (the OS would give up on the connection only after minutes).
  assert.ok(Date.now() - started < 30_000);
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

test('key material never appears in errors thrown for bad credentials', () => {
  assert.throws(
    () => openSecureSocket(options({ key: pki.devices[0].key.replace(/[A-Za-z]{10}/, 'AAAAAAAAAA') }), { onConnect() {}, onData() {}, onError() {} }),
    (error: Error) => !/PRIVATE KEY|[A-Za-z0-9+/=]{40,}/.test(error.message) && /credentials could not be loaded/.test(error.message),
  );
});

const mosquittoPresent = findMosquitto() !== undefined;
// Without the binary the test is skipped on a workstation but fails in CI, where it must be installed.
const skipMosquitto = !mosquittoPresent && !process.env.CI ? MOSQUITTO_MISSING : false;

test('CONNECT over openSecureSocket gets CONNACK from mosquitto (TLS 1.2, require_certificate, no ALPN as on port 8883)', { skip: skipMosquitto }, async () => {
  let broker: MosquittoBroker | undefined;
  try {
    broker = await startMosquitto({ tls: { ca: pki.rootCa, chain: pki.endpoint.chain, key: pki.endpoint.key } });
    const ok = mqttSession(options({ port: broker.tlsPort, alpn: [] }), 'sim-thing-1');
    await ok.settled;
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.info?.alpn, undefined);
    assert.equal((ok.packets[0] as { returnCode: number }).returnCode, 0);
    ok.socket.close();

    const foreign = mqttSession(options({ port: broker.tlsPort, alpn: [], cert: pki.negative.otherCaDevice.cert }), 'sim-thing-1');
    await foreign.settled;
    assert.equal(foreign.errors[0]?.category, 'tls-alert');

    // The plain listener reads the ClientHello as a bad MQTT packet and hangs up without a
    // word: a reset during the handshake, which is `tcp` (indistinguishable from the network).
    const plain = mqttSession(options({ port: broker.port, alpn: [] }), 'sim-thing-1');
    await plain.settled;
    assert.equal(plain.errors[0]?.category, 'tcp', plain.errors[0]?.message);
    assert.match(plain.errors[0].message, /during the TLS handshake/);
  } finally {
    await broker?.stop();
  }
});

test('the device clock checks every certificate of the chain as Mbed TLS does: expired, not yet valid, or no wall time at all', async () => {
  const chain = [pki.endpoint.cert, pki.intermediateCa, pki.rootCa].map((pem) => new X509Certificate(pem).raw);
  const root = new X509Certificate(pki.rootCa);
  const from = Date.parse(root.validFrom);
  const to = Date.parse(root.validTo);
  assert.equal(checkChainDates(chain, from + 1000, 'x'), undefined);
  assert.equal(checkChainDates(chain, to, 'x'), undefined, 'valid through its last second');
  const expired = checkChainDates(chain, to + 1000, 'x')!;
  assert.deepEqual([expired.category, expired.reason], ['tls-cert', 'time']);
  assert.match(expired.message, /expired at the device clock/);
  const early = checkChainDates(chain, from - 1000, 'x')!;
  assert.deepEqual([early.category, early.reason], ['tls-cert', 'time']);
  assert.match(early.message, /not yet valid/);
  assert.match(checkChainDates(chain, NaN, 'x')!.message, /not yet valid at the device clock, not set/);
});

test('a handshake whose chain is out of date at the device clock fails tls-cert / time, though the host clock accepts it', async () => {
  const to = Date.parse(new X509Certificate(pki.endpoint.cert).validTo);
  const future = mqttSession(options({ deviceClock: () => to + 86_400_000 }), 'dated-1');
  await future.settled;
  assert.equal(future.info, undefined);
  assert.deepEqual(future.errors.map((e) => [e.category, e.reason]), [['tls-cert', 'time']]);
  const honest = mqttSession(options({ deviceClock: () => Date.now() }), 'dated-2');
  await honest.settled;
  assert.deepEqual(honest.errors, []);
  assert.equal(honest.packets[0]?.cmd, 'connack');
  honest.socket.close();
});
