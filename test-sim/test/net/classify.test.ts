import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alpnError, classifySocketError, type ClassifyContext, type ErrorLike, type SocketStage } from '../../net/secure';
import type { LinkErrorCategory } from '../../../hal/types';

const at = (stage: SocketStage): ClassifyContext => ({
  stage,
  host: 'a1-ats.iot.eu-west-1.amazonaws.com',
  port: 443,
  serverName: 'a1-ats.iot.eu-west-1.amazonaws.com',
  alpn: ['x-amzn-mqtt-ca'],
});

/** OpenSSL-style error as Node raises it for a received alert. */
function alert(code: string, reason: string, number: number): ErrorLike {
  return {
    code,
    reason,
    message: `80DC4843797F0000:error:0A000410:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${number}\n`,
  };
}

const table: Array<[string, ErrorLike, SocketStage, LinkErrorCategory]> = [
  ['name does not resolve', { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND x' }, 'tcp', 'dns'],
  ['resolver unavailable', { code: 'EAI_AGAIN' }, 'tcp', 'dns'],
  ['refused', { code: 'ECONNREFUSED' }, 'tcp', 'tcp'],
  ['host unreachable', { code: 'EHOSTUNREACH' }, 'tcp', 'tcp'],
  ['reset before the handshake', { code: 'ECONNRESET' }, 'tcp', 'tcp'],
  [
    'hang-up during the handshake, no alert',
    { code: 'ECONNRESET', message: 'Client network socket disconnected before secure TLS connection was established' },
    'tls',
    'tcp',
  ],
  ['our deadline', { code: 'ETIMEDOUT' }, 'tls', 'timeout'],
  ['unknown issuer', { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', message: 'unable to get local issuer certificate' }, 'tls', 'tls-cert'],
  ['leaf signature', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'tls', 'tls-cert'],
  ['expired', { code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' }, 'tls', 'tls-cert'],
  ['not yet valid (device clock)', { code: 'CERT_NOT_YET_VALID' }, 'tls', 'tls-cert'],
  ['self-signed', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'tls', 'tls-cert'],
  ['self-signed in chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' }, 'tls', 'tls-cert'],
  ['name mismatch', { code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, 'tls', 'tls-cert'],
  ['handshake_failure alert', alert('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'sslv3 alert handshake failure', 40), 'tls', 'tls-alert'],
  ['bad_certificate alert', alert('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate', 42), 'tls', 'tls-alert'],
  ['unknown_ca alert', alert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', 48), 'tls', 'tls-alert'],
  ['unrecognized_name alert', alert('ERR_SSL_TLSV1_UNRECOGNIZED_NAME', 'tlsv1 unrecognized name', 112), 'tls', 'tls-alert'],
  ['no_application_protocol alert', alert('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'tlsv1 alert no application protocol', 120), 'tls', 'tls-alert'],
  ['certificate_required alert (TLS 1.3)', alert('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required', 116), 'tls', 'tls-alert'],
  ['protocol_version alert: the server refused us', alert('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'tlsv1 alert protocol version', 70), 'tls', 'tls-alert'],
  ['alert named only in the message', { code: 'ERR_SSL_SOMETHING_NEW', message: 'x:SSL alert number 49' }, 'tls', 'tls-alert'],
  ['we refused the server version', { code: 'ERR_SSL_UNSUPPORTED_PROTOCOL', reason: 'unsupported protocol' }, 'tls', 'tls-handshake'],
  ['peer does not speak TLS', { code: 'ERR_SSL_WRONG_VERSION_NUMBER', reason: 'wrong version number' }, 'tls', 'tls-handshake'],
  ['no shared cipher', { code: 'ERR_SSL_NO_SHARED_CIPHER' }, 'tls', 'tls-handshake'],
  ['unknown failure in the handshake', { message: 'something odd' }, 'tls', 'tls-handshake'],
  ['unknown failure before TCP', { message: 'something odd' }, 'tcp', 'tcp'],
  ['reset once open', { code: 'ECONNRESET' }, 'open', 'closed'],
  ['alert once open', alert('ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC', 'sslv3 alert bad record mac', 20), 'open', 'closed'],
];

for (const [name, error, stage, category] of table) {
  test(`${name} (${stage}) -> ${category}`, () => {
    const result = classifySocketError(error, at(stage));
    assert.equal(result.category, category);
    assert.doesNotMatch(result.message, /\n/);
    assert.match(result.message, / — /, 'says what to check');
  });
}

test('messages keep the OpenSSL reason, not its hex prefix or source path', () => {
  const { message } = classifySocketError(alert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', 48), at('tls'));
  assert.match(message, /tlsv1 alert unknown ca/);
  assert.doesNotMatch(message, /rec_layer_s3|0A000410/);
});

test('a message never carries key material, even if an error quotes it', () => {
  const begin = ['-----BEGIN', 'PRIVATE', 'KEY-----'].join(' ');
  const leak = `${begin}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${'A'.repeat(64)}\n-----END PRIVATE KEY-----`;
  for (const stage of ['tcp', 'tls', 'open'] as const) {
    const { message } = classifySocketError({ code: 'ERR_OSSL_X', message: `${leak}` }, at(stage));
    assert.doesNotMatch(message, /PRIVATE KEY|MIIEvQ|A{40}/);
  }
});

test('hints follow the alert: SNI for unrecognized_name, ALPN for no_application_protocol', () => {
  assert.match(classifySocketError(alert('ERR_SSL_TLSV1_UNRECOGNIZED_NAME', 'tlsv1 unrecognized name', 112), at('tls')).message, /SNI/);
  assert.match(
    classifySocketError(alert('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'tlsv1 alert no application protocol', 120), at('tls')).message,
    /ALPN/,
  );
});

test('alpnError names what was offered and what came back', () => {
  const error = alpnError(['x-amzn-mqtt-ca'], false, at('tls'));
  assert.equal(error.category, 'alpn');
  assert.match(error.message, /selected ALPN none, not x-amzn-mqtt-ca/);
  assert.match(alpnError(['x-amzn-mqtt-ca'], 'h2', at('tls')).message, /"h2"/);
});

test('a rejected certificate says which check failed: the clock, the name, the usage or the chain', () => {
  const reason = (code: string) => classifySocketError({ code }, at('tls')).reason;
  assert.equal(reason('CERT_HAS_EXPIRED'), 'time');
  assert.equal(reason('CERT_NOT_YET_VALID'), 'time');
  assert.equal(reason('ERR_TLS_CERT_ALTNAME_INVALID'), 'name');
  assert.equal(reason('INVALID_PURPOSE'), 'usage');
  assert.equal(reason('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'untrusted');
  assert.equal(reason('ECONNRESET'), undefined);
});

test('a ServerHello selecting an ALPN protocol we did not offer (OpenSSL: bad extension) is alpn', () => {
  const error = classifySocketError({ code: 'ERR_SSL_BAD_EXTENSION', message: 'bad extension' }, at('tls'));
  assert.equal(error.category, 'alpn');
  assert.match(error.message, /selected ALPN "an unoffered protocol", not x-amzn-mqtt-ca/);
  // Without ALPN offered it stays a handshake failure.
  assert.equal(classifySocketError({ code: 'ERR_SSL_BAD_EXTENSION' }, { ...at('tls'), alpn: [] }).category, 'tls-handshake');
});

test('verify errors Node has no name for (an issuer without keyCertSign), weak hashes and keys are tls-cert, untrusted', () => {
  for (const code of ['UNSPECIFIED', 'KEYUSAGE_NO_CERTSIGN', 'CA_MD_TOO_WEAK', 'EE_KEY_TOO_SMALL']) {
    const error = classifySocketError({ code, message: 'key usage does not include certificate signing' }, at('tls'));
    assert.equal(error.category, 'tls-cert', code);
    assert.equal(error.reason, 'untrusted', code);
  }
});
