/**
 * hal/moddable/tls-errors: what the Mbed TLS engine (native/tls) and Moddable's
 * socket report, sorted into the HAL's categories. The engine facts are the
 * ones tls-engine.c produces (kind, Mbed TLS code, MBEDTLS_X509_BADCERT_*
 * flags, alert, ALPN); the mcsim negative matrix sees them for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BADCERT,
  certFailure,
  classifyTlsFailure,
  codeName,
  FailureKind,
  SOCKET_DISCONNECTED,
  SOCKET_ERROR,
  type EngineFailure,
  type TlsFailureFacts,
} from '../../../hal/moddable/tls-errors';

const base = { host: '127.0.0.1', port: 8443, serverName: 'local-ats.iot.sim-local-1.amazonaws.com', alpn: ['x-amzn-mqtt-ca'] };
const classify = (facts: Partial<TlsFailureFacts> & Pick<TlsFailureFacts, 'stage'>) => classifyTlsFailure({ ...base, ...facts });
const engine = (kind: number, fields: { code?: number; flags?: number; alert?: number; alpn?: string; what?: string } = {}): EngineFailure =>
  [kind, fields.code ?? 0, fields.flags ?? 0, fields.alert ?? -1, fields.alpn ?? '', fields.what ?? ''];
const VERIFY_FAILED = -0x2700;

test('a name Net.resolve could not resolve is dns', () => {
  assert.equal(classify({ stage: 'resolve' }).category, 'dns');
});

test('our own deadline is timeout, at any stage before the session is open', () => {
  for (const stage of ['resolve', 'tcp', 'tls'] as const) assert.equal(classify({ stage, timedOut: true }).category, 'timeout');
  assert.match(classify({ stage: 'tls', timedOut: true }).message, /during the TLS handshake/);
});

test('a socket error before TCP connected is tcp; "no network" from the lwIP socket is wifi', () => {
  assert.equal(classify({ stage: 'tcp', socketMessage: SOCKET_ERROR }).category, 'tcp');
  assert.equal(classify({ stage: 'tcp', thrown: { name: 'Error', message: 'no network' } }).category, 'wifi');
});

test('end of stream during the handshake with no alert is tcp, as in hal/sim', () => {
  const error = classify({ stage: 'tls', socketMessage: SOCKET_DISCONNECTED });
  assert.equal(error.category, 'tcp');
  assert.match(error.message, /no alert/);
});

test('a chain with no trusted path is tls-cert, reason untrusted, and says which checks failed', () => {
  const error = classify({ stage: 'tls', engine: engine(FailureKind.certificate, { code: VERIFY_FAILED, flags: BADCERT.notTrusted }) });
  assert.equal(error.category, 'tls-cert');
  assert.equal(error.reason, 'untrusted');
  assert.match(error.message, /no valid path to a trusted CA.*Amazon Root CA 1 and 3/);
});

test('each verify flag maps to its reason; the most fundamental failure wins', () => {
  assert.equal(certFailure(BADCERT.expired), 'time');
  assert.equal(certFailure(BADCERT.future), 'time');
  assert.equal(certFailure(BADCERT.cnMismatch), 'name');
  assert.equal(certFailure(BADCERT.extKeyUsage), 'usage');
  assert.equal(certFailure(BADCERT.keyUsage), 'usage');
  assert.equal(certFailure(BADCERT.badMd), 'untrusted');
  assert.equal(certFailure(BADCERT.badKey), 'untrusted');
  assert.equal(certFailure(BADCERT.expired | BADCERT.cnMismatch), 'name');
  assert.equal(certFailure(BADCERT.expired | BADCERT.notTrusted), 'untrusted');
  assert.equal(certFailure(BADCERT.expired | BADCERT.extKeyUsage), 'usage');
  const expired = classify({ stage: 'tls', engine: engine(FailureKind.certificate, { code: VERIFY_FAILED, flags: BADCERT.expired }) });
  assert.equal(expired.reason, 'time');
  assert.match(expired.message, /expired.*device clock/);
  const name = classify({ stage: 'tls', engine: engine(FailureKind.certificate, { code: VERIFY_FAILED, flags: BADCERT.cnMismatch }) });
  assert.match(name.message, /subjectAltName does not carry the server name/);
});

test('an alert from the server is tls-alert and names the alert, with a hint for SNI and ALPN', () => {
  const sni = classify({ stage: 'tls', engine: engine(FailureKind.alert, { code: -0x7780, alert: 112 }) });
  assert.equal(sni.category, 'tls-alert');
  assert.match(sni.message, /unrecognized_name.*SNI local-ats/);
  assert.match(classify({ stage: 'tls', engine: engine(FailureKind.alert, { alert: 120 }) }).message, /no_application_protocol.*x-amzn-mqtt-ca/);
  assert.match(classify({ stage: 'tls', engine: engine(FailureKind.alert, { alert: 48 }) }).message, /unknown_ca.*registered/);
  assert.match(classify({ stage: 'tls', engine: engine(FailureKind.alert, { alert: -1 }) }).message, /encrypted alert/);
});

test('a server selecting no ALPN or one we did not offer is alpn, and the message says which', () => {
  const none = classify({ stage: 'tls', engine: engine(FailureKind.alpn) });
  assert.equal(none.category, 'alpn');
  assert.match(none.message, /selected ALPN none, not x-amzn-mqtt-ca/);
  const other = classify({ stage: 'tls', engine: engine(FailureKind.alpn, { code: -0x6E00, alpn: 'mqtt' }) });
  assert.equal(other.category, 'alpn');
  assert.match(other.message, /selected ALPN "mqtt"/);
});

test('a server choosing a version below TLS 1.2 is tls-handshake', () => {
  const error = classify({ stage: 'tls', engine: engine(FailureKind.version, { code: -0x6E80 }) });
  assert.equal(error.category, 'tls-handshake');
  assert.match(error.message, /below TLS 1.2.*SSL_BAD_PROTOCOL_VERSION -0x6E80/);
});

test('a server answering the ClientHello with handshake_failure (a TLS 1.0/1.1-only server) is tls-handshake, not a credential fault', () => {
  const error = classify({ stage: 'tls', engine: engine(FailureKind.negotiation, { code: -0x7780, alert: 40 }) });
  assert.equal(error.category, 'tls-handshake');
  assert.match(error.message, /refused the ClientHello \(handshake_failure\): no common TLS version or cipher suite/);
});

test('a leaf the chain verifies but whose key usage forbids a server (Mbed TLS: BAD_CERTIFICATE) is tls-cert, usage', () => {
  const error = classify({ stage: 'tls', engine: engine(FailureKind.certificate, { code: -0x7A00, flags: BADCERT.extKeyUsage }) });
  assert.equal(error.category, 'tls-cert');
  assert.equal(error.reason, 'usage');
});

test('unusable device credentials are a credential fault (tls-alert) that names the credential, never its bytes', () => {
  const error = classify({ stage: 'tls', engine: engine(FailureKind.credentials, { code: -0x3D00, what: 'device key' }) });
  assert.equal(error.category, 'tls-alert');
  assert.match(error.message, /device credentials unusable: device key \(PK_KEY_INVALID_FORMAT -0x3D00\)/);
});

test('other handshake failures are tls-handshake; out of memory is retried, not a credential fault', () => {
  assert.equal(classify({ stage: 'tls', engine: engine(FailureKind.handshake, { code: -0x6E00 }) }).category, 'tls-handshake');
  assert.equal(classify({ stage: 'tls', engine: engine(FailureKind.memory, { code: -141 }) }).category, 'tls-handshake');
});

test('anything after the handshake is closed', () => {
  assert.equal(classify({ stage: 'open', socketMessage: SOCKET_DISCONNECTED }).category, 'closed');
  assert.match(classify({ stage: 'open', engine: engine(FailureKind.closed, { code: -0x7880 }) }).message, /close_notify/);
  assert.equal(classify({ stage: 'open', engine: engine(FailureKind.record, { code: -0x7180 }) }).category, 'closed');
});

test('codes are named in hex, unknown ones too', () => {
  assert.equal(codeName(-0x2700), 'X509_CERT_VERIFY_FAILED -0x2700');
  assert.equal(codeName(-0x1234), '-0x1234');
  assert.equal(codeName(0), 'no error code');
});

test('messages are one line', () => {
  for (const kind of Object.values(FailureKind)) {
    assert.doesNotMatch(classify({ stage: 'tls', engine: engine(kind, { flags: 0xffff, alert: 40 }) }).message, /\n/);
  }
});
