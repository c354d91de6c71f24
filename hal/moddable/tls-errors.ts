/**
 * Sorts what the Mbed TLS engine (native/tls) and Moddable's TCP socket report
 * into the HAL's `LinkError` categories. Pure: depends only on its arguments,
 * so it is unit-tested in Node (test-sim/test/moddable/tls-errors.test.ts).
 *
 * - `dns`: the HAL resolves the name itself with `Net.resolve` first (the
 *   socket alone reports a failed lookup as a bare error on ESP32 and not at
 *   all on Linux).
 * - `wifi`: the lwIP socket constructor's "no network" on ESP32.
 * - `tcp`: a socket error or disconnect before the TCP connect completed, or a
 *   reset or end of stream during the handshake with no alert (it cannot be
 *   told from a network reset, the same decision as hal/sim).
 * - `tls-cert`: Mbed TLS's path validation refused the server's chain;
 *   `reason` from its MBEDTLS_X509_BADCERT_* flags (see `certFailure`).
 * - `tls-alert`: the server sent a fatal alert (its number is exact in TLS 1.2,
 *   where handshake alerts are plaintext; a TLS 1.3 alert is encrypted and
 *   reported without a number); also our own credentials unusable, which
 *   retrying cannot fix either (the supervisor's credential schedule).
 * - `alpn`: ALPN offered and the server selected none or one we did not offer.
 * - `tls-handshake`: anything else in the handshake (a version below TLS 1.2,
 *   no common cipher suite, a malformed message, no memory), including a
 *   server answering the ClientHello itself with handshake_failure,
 *   protocol_version or insufficient_security: nothing about credentials has
 *   been exchanged yet, the two sides share no version or suite (a TLS
 *   1.0/1.1-only server).
 * - `timeout`: the HAL's own connect-plus-handshake timer.
 * - `closed`: anything after the handshake.
 */
import type { CertFailure, LinkError, LinkErrorCategory } from '../types';

/** How far the connection got. */
export type TlsStage = 'resolve' | 'tcp' | 'tls' | 'open';

/** Socket callback messages (modules/network/socket: `Socket.disconnected`, `Socket.error`). */
export const SOCKET_DISCONNECTED = -1;
export const SOCKET_ERROR = -2;

/** tls-engine.h flTlsFailureKind, as native/tls reports it in `failure()[0]`. */
export const FailureKind = Object.freeze({
  none: 0,
  credentials: 1,
  certificate: 2,
  alert: 3,
  alpn: 4,
  version: 5,
  handshake: 6,
  closed: 7,
  record: 8,
  memory: 9,
  negotiation: 10,
} as const);

/** What native/tls's `failure()` returns: [kind, code, verifyFlags, alert, alpn, what]. */
export type EngineFailure = readonly [kind: number, code: number, verifyFlags: number, alert: number, alpn: string, what: string];

export interface TlsFailureFacts {
  stage: TlsStage;
  host: string;
  port: number;
  serverName: string;
  /** ALPN protocols offered. */
  alpn: readonly string[];
  /** The engine's failure, when it failed. */
  engine?: EngineFailure;
  /** The exception the socket threw, when there was one. */
  thrown?: { name?: string; message?: string };
  /** The socket callback message that ended the connection. */
  socketMessage?: number;
  /** Set when our own timer fired. */
  timedOut?: boolean;
}

/** TLS alert descriptions (RFC 5246 7.2, RFC 6066, RFC 7301, RFC 8446). */
const ALERTS: Readonly<Record<number, string>> = Object.freeze({
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  90: 'user_canceled',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  116: 'certificate_required',
  120: 'no_application_protocol',
});

export function alertName(description: number): string {
  return ALERTS[description] ?? `alert ${description}`;
}

/** MBEDTLS_X509_BADCERT_* (include/mbedtls/x509.h, Mbed TLS 4.0). */
export const BADCERT = Object.freeze({
  expired: 0x01,
  revoked: 0x02,
  cnMismatch: 0x04,
  notTrusted: 0x08,
  missing: 0x40,
  skipVerify: 0x80,
  other: 0x0100,
  future: 0x0200,
  keyUsage: 0x0800,
  extKeyUsage: 0x1000,
  nsCertType: 0x2000,
  badMd: 0x4000,
  badPk: 0x8000,
  badKey: 0x010000,
} as const);

const UNTRUSTED_FLAGS = BADCERT.notTrusted | BADCERT.missing | BADCERT.other | BADCERT.revoked | BADCERT.skipVerify;
const WEAK_FLAGS = BADCERT.badMd | BADCERT.badPk | BADCERT.badKey;
const USAGE_FLAGS = BADCERT.keyUsage | BADCERT.extKeyUsage | BADCERT.nsCertType;
const TIME_FLAGS = BADCERT.expired | BADCERT.future;

/**
 * Which check failed, most fundamental first: without a trusted path (or with
 * a weak signature or key on it) nothing else the chain says can be believed;
 * then the name, the usage, and last the dates (the one a wrong device clock
 * also explains).
 */
export function certFailure(flags: number): CertFailure {
  if (flags & (UNTRUSTED_FLAGS | WEAK_FLAGS)) return 'untrusted';
  if (flags & BADCERT.cnMismatch) return 'name';
  if (flags & USAGE_FLAGS) return 'usage';
  if (flags & TIME_FLAGS) return 'time';
  return 'untrusted';
}

/** Every failed check, for the message. */
export function certProblems(flags: number): string[] {
  const problems: string[] = [];
  if (flags & (BADCERT.notTrusted | BADCERT.missing)) problems.push('no valid path to a trusted CA (each link must be signed by the next, issuers CA:TRUE with keyCertSign)');
  if (flags & BADCERT.other) problems.push('the chain does not parse');
  if (flags & BADCERT.revoked) problems.push('revoked');
  if (flags & BADCERT.badMd) problems.push('signed with a weak hash (SHA-256 or stronger required)');
  if (flags & (BADCERT.badPk | BADCERT.badKey)) problems.push('a weak key (RSA >= 2048, EC >= P-256 required)');
  if (flags & BADCERT.cnMismatch) problems.push('the leaf\'s subjectAltName does not carry the server name');
  if (flags & USAGE_FLAGS) problems.push('key usage or extended key usage forbids a TLS server');
  if (flags & BADCERT.expired) problems.push('expired');
  if (flags & BADCERT.future) problems.push('not yet valid');
  return problems;
}

/** Mbed TLS 4.0 / PSA error codes worth naming in a message (include/mbedtls/ssl.h, x509.h, psa/crypto_values.h). */
const CODES: Readonly<Record<number, string>> = Object.freeze({
  [-0x2700]: 'X509_CERT_VERIFY_FAILED',
  [-0x2180]: 'X509_INVALID_FORMAT',
  [-0x2080]: 'X509_FEATURE_UNAVAILABLE',
  [-0x3F00]: 'PK_TYPE_MISMATCH',
  [-0x3D80]: 'PK_KEY_INVALID_VERSION',
  [-0x3D00]: 'PK_KEY_INVALID_FORMAT',
  [-0x3C80]: 'PK_UNKNOWN_PK_ALG',
  [-0x3C00]: 'PK_PASSWORD_REQUIRED',
  [-0x3B00]: 'PK_INVALID_PUBKEY',
  [-0x3A00]: 'PK_UNKNOWN_NAMED_CURVE',
  [-0x7080]: 'SSL_FEATURE_UNAVAILABLE',
  [-0x7180]: 'SSL_INVALID_MAC',
  [-0x7200]: 'SSL_INVALID_RECORD',
  [-0x7300]: 'SSL_DECODE_ERROR',
  [-0x7500]: 'SSL_UNSUPPORTED_EXTENSION',
  [-0x7580]: 'SSL_NO_APPLICATION_PROTOCOL',
  [-0x7700]: 'SSL_UNEXPECTED_MESSAGE',
  [-0x7780]: 'SSL_FATAL_ALERT_MESSAGE',
  [-0x7880]: 'SSL_PEER_CLOSE_NOTIFY',
  [-0x7A00]: 'SSL_BAD_CERTIFICATE',
  [-0x6E80]: 'SSL_BAD_PROTOCOL_VERSION',
  [-0x6E00]: 'SSL_HANDSHAKE_FAILURE',
  [-0x6C00]: 'SSL_INTERNAL_ERROR',
  [-0x6600]: 'SSL_ILLEGAL_PARAMETER',
  [-0x6700]: 'SSL_UNEXPECTED_RECORD',
  [-0x5E80]: 'SSL_BAD_CONFIG',
  [-134]: 'PSA_ERROR_NOT_SUPPORTED',
  [-135]: 'PSA_ERROR_INVALID_ARGUMENT',
  [-141]: 'PSA_ERROR_INSUFFICIENT_MEMORY',
  [-149]: 'PSA_ERROR_INVALID_SIGNATURE',
});

export function codeName(code: number): string {
  if (code === 0) return 'no error code';
  const hex = `-0x${(-code).toString(16).toUpperCase().padStart(4, '0')}`;
  return CODES[code] ? `${CODES[code]} ${hex}` : hex;
}

function oneLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0].slice(0, 160);
}

export function classifyTlsFailure(facts: TlsFailureFacts): LinkError {
  const where = `${facts.host}:${facts.port}`;
  const make = (category: LinkErrorCategory, message: string): LinkError => ({ category, message });
  const detail = oneLine(facts.thrown?.message);
  const engine = facts.engine;

  if (facts.stage === 'open') {
    if (engine?.[0] === FailureKind.closed) return make('closed', `connection to ${where} closed by the server (close_notify) — reconnect`);
    if (engine?.[0] === FailureKind.alert) return make('closed', `connection to ${where} ended by the server's alert — reconnect`);
    if (engine) return make('closed', `connection to ${where} lost (bad TLS record, ${codeName(engine[1])}) — reconnect`);
    const why = facts.socketMessage === SOCKET_DISCONNECTED ? 'closed by peer' : detail || 'socket error';
    return make('closed', `connection to ${where} lost (${why}) — reconnect`);
  }
  if (facts.timedOut) {
    const during = facts.stage === 'resolve' ? 'resolving the name' : facts.stage === 'tcp' ? 'on TCP connect' : 'during the TLS handshake';
    return make('timeout', `no TLS session with ${where} in time (stuck ${during}) — check reachability and the port`);
  }
  if (facts.stage === 'resolve') {
    return make('dns', `cannot resolve ${facts.host} — check the endpoint name and DNS`);
  }
  if (engine?.[0] === FailureKind.credentials) {
    // Our own credential is unusable. The HAL has no category for "our key", and
    // retrying cannot fix it, so it takes the one the supervisor treats as a credential fault.
    return make('tls-alert', `device credentials unusable: ${engine[5]} (${codeName(engine[1])}) — provision them again (npm run provision)`);
  }
  if (engine?.[0] === FailureKind.memory) {
    return make('tls-handshake', `TLS with ${where} ran out of memory (${engine[5] || codeName(engine[1])}) — retry later`);
  }
  if (facts.stage === 'tcp' && detail === 'no network') {
    return make('wifi', `cannot open a socket to ${where}: no network interface — Wi-Fi is not associated`);
  }
  if (facts.stage === 'tcp') {
    return make('tcp', `connection to ${where} failed on TCP connect${detail ? ` (${detail})` : ''} — check host, port and that the endpoint is up`);
  }

  // stage 'tls'
  if (engine) {
    const [kind, code, flags, alert, alpn] = engine;
    switch (kind) {
      case FailureKind.certificate: {
        const reason = certFailure(flags);
        const problems = certProblems(flags).join('; ') || codeName(code);
        return { ...make('tls-cert', `server certificate for ${facts.serverName} rejected (${problems}) — ${certHint(reason, facts.serverName)}`), reason };
      }
      case FailureKind.alert:
        if (alert < 0) return make('tls-alert', `server refused the handshake with an encrypted alert (TLS 1.3) — check that the device certificate is registered and active and its CA is known to the server`);
        return make('tls-alert', `server refused the handshake (${alertName(alert)}) — ${alertHint(alert, facts.serverName)}`);
      case FailureKind.alpn:
        return make('alpn', `server at ${where} selected ALPN ${alpn ? `"${alpn}"` : 'none'}, not ${facts.alpn.join('/')} — AWS needs ALPN ${facts.alpn[0] ?? 'x-amzn-mqtt-ca'} on port 443 (or use port 8883 without ALPN)`);
      case FailureKind.negotiation:
        return make('tls-handshake', `server at ${where} refused the ClientHello (${alertName(alert)}): no common TLS version or cipher suite — the server must offer TLS 1.2 with an ECDHE AES-GCM or ChaCha20 suite`);
      case FailureKind.version:
        return make('tls-handshake', `TLS handshake with ${where} failed (the server chose a version below TLS 1.2, ${codeName(code)}) — the server must offer TLS 1.2`);
      case FailureKind.closed:
        return make('tcp', `connection to ${where} closed during the TLS handshake (close_notify) — check host, port and that the endpoint speaks TLS`);
      default:
        return make('tls-handshake', `TLS handshake with ${where} failed (${codeName(code)}) — the server must offer TLS 1.2 with an ECDHE AES-GCM or ChaCha20 suite`);
    }
  }
  if (facts.thrown) {
    return make('tcp', `connection to ${where} failed during the TLS handshake (${detail || 'socket error'}) — check host, port and the network`);
  }
  const why = facts.socketMessage === SOCKET_DISCONNECTED ? 'closed by peer' : 'socket error';
  return make('tcp', `connection to ${where} ended during the TLS handshake (${why}, no alert) — check host, port and that the endpoint speaks TLS`);
}

function certHint(reason: CertFailure, serverName: string): string {
  switch (reason) {
    case 'time': return 'check the device clock (SNTP) and the certificate dates';
    case 'name': return `check that ${serverName} is the endpoint name`;
    case 'usage': return 'the server presents a certificate that is not for a TLS server';
    default: return 'check the trusted CA (AWS: Amazon Root CA 1 and 3) and that the endpoint is the real one';
  }
}

function alertHint(description: number, serverName: string): string {
  switch (description) {
    case 112: return `check that SNI ${serverName} is the endpoint name`;
    case 120: return 'check the ALPN offered (port 443 needs x-amzn-mqtt-ca)';
    case 70: return 'the server wants a TLS version the device does not offer';
    default: return 'check that the device certificate is registered and active and its CA is known to the server';
  }
}
