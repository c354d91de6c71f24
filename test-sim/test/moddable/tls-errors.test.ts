/**
 * hal/moddable/tls-errors: what Moddable's socket and TLS report, sorted into
 * the HAL's categories. Each case is a failure seen in mcsim (see README,
 * "Moddable") reduced to the facts the HAL collects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyTlsFailure, SOCKET_DISCONNECTED, SOCKET_ERROR, type TlsFailureFacts } from '../../../hal/moddable/tls-errors';

const base = { host: '127.0.0.1', port: 8443, serverName: 'local-ats.iot.sim-local-1.amazonaws.com' };
const category = (facts: Partial<TlsFailureFacts> & Pick<TlsFailureFacts, 'stage'>) => classifyTlsFailure({ ...base, ...facts }).category;

test('a name Net.resolve could not resolve is dns', () => {
  assert.equal(category({ stage: 'resolve' }), 'dns');
});

test('our own deadline is timeout, at any stage before the session is open', () => {
  for (const stage of ['resolve', 'tcp', 'tls'] as const) assert.equal(category({ stage, timedOut: true }), 'timeout');
  assert.match(classifyTlsFailure({ ...base, stage: 'tls', timedOut: true }).message, /during the TLS handshake/);
});

test('a socket error before TCP connected is tcp; "no network" from the lwIP socket is wifi', () => {
  assert.equal(category({ stage: 'tcp', socketMessage: SOCKET_ERROR }), 'tcp');
  assert.equal(category({ stage: 'tcp', thrown: { name: 'Error', message: 'no network' } }), 'wifi');
});

test('a refused port on Linux (the first handshake write fails) is tcp', () => {
  assert.equal(category({ stage: 'tls', thrown: { name: 'Error', message: 'write failed (in write)' }, socketMessage: SOCKET_ERROR }), 'tcp');
});

test('end of stream during the handshake with no alert is tcp, as in hal/sim', () => {
  assert.equal(category({ stage: 'tls', socketMessage: SOCKET_DISCONNECTED }), 'tcp');
});

test('ssl/handshake "certificate: auth err" is tls-cert, and the message names all three checks', () => {
  const error = classifyTlsFailure({ ...base, stage: 'tls', thrown: { name: 'TLS', message: 'certificate: auth err' } });
  assert.equal(error.category, 'tls-cert');
  assert.match(error.message, /CA.*endpoint name.*clock/);
});

test('an alert from the server is tls-alert and names the alert, with a hint for SNI and ALPN', () => {
  const sni = classifyTlsFailure({ ...base, stage: 'tls', thrown: { name: 'TLS', message: 'alert: 2, 112' }, alert: { level: 2, description: 112 } });
  assert.equal(sni.category, 'tls-alert');
  assert.match(sni.message, /unrecognized_name.*SNI local-ats/);
  const alpn = classifyTlsFailure({ ...base, stage: 'tls', thrown: { name: 'TLS', message: 'alert: 2, 120' } });
  assert.equal(alpn.category, 'tls-alert');
  assert.match(alpn.message, /no_application_protocol.*x-amzn-mqtt-ca/);
  assert.match(classifyTlsFailure({ ...base, stage: 'tls', thrown: { name: 'TLS', message: 'alert: 2, 48' } }).message, /unknown_ca/);
});

test('an alert Moddable sent itself (server version below TLS 1.2) is tls-handshake', () => {
  assert.equal(category({ stage: 'tls', alert: { level: 2, description: 70 } }), 'tls-handshake');
});

test('an RSA-only CertificateVerify with another key type is a credential fault (tls-alert)', () => {
  assert.equal(category({ stage: 'tls', thrown: { name: 'TLS', message: 'certificateVerify: unimplemented' } }), 'tls-alert');
});

test('other TLS failures are tls-handshake', () => {
  assert.equal(category({ stage: 'tls', thrown: { name: 'TLS', message: 'handshake: unsuppoorted cipher' } }), 'tls-handshake');
});

test('anything after the handshake is closed', () => {
  assert.equal(category({ stage: 'open', socketMessage: SOCKET_DISCONNECTED }), 'closed');
  assert.equal(category({ stage: 'open', thrown: { name: 'TLS', message: 'alert: 2, 20' } }), 'closed');
});
