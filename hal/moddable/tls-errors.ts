/**
 * Sorts what Moddable's TLS stack reports into the HAL's `LinkError`
 * categories. Pure: depends only on its arguments, so it is unit-tested in Node.
 *
 * What Moddable lets us tell apart (read from SDK 8.2.3: `modules/crypt/
 * securesocket/securesocket.js`, `modules/crypt/ssl/*`, `modules/network/socket/
 * {lwip,lin}/modSocket.c`, `modules/network/net/*`):
 * - `dns`: only because the HAL resolves the name itself with `Net.resolve`
 *   first. The socket alone reports a failed lookup as a bare error on ESP32 and
 *   not at all on Linux (the glib resolver callback just never connects).
 * - `tcp`: a socket error or disconnect before the TCP connect completed, and a
 *   reset or end of stream during the handshake with no alert (the same
 *   decision as hal/sim: it cannot be told apart from a network reset).
 * - `tls-cert`: ssl/handshake throws `certificate: auth err` when
 *   `CertificateManager.verify` fails. Moddable does not say which check failed
 *   (CA, server name against the SAN, dates), so the message lists all three.
 * - `tls-alert`: the server sent a fatal alert; ssl/alert stores it in
 *   `session.alert` before throwing, so the alert number is exact.
 * - `tls-handshake`: any other failure inside the TLS code (cipher, a version
 *   below 1.2 that we refused, a malformed record).
 * - `timeout`: the HAL's own connect-plus-handshake timer.
 * - `closed`: anything after the handshake.
 * What it cannot: `alpn`. The ServerHello extension parser is never reached
 * (ssl_handshake.js tests `s.byteAvailable`, a misspelling of
 * `bytesAvailable`), so the selected protocol is never recorded. A server that
 * requires ALPN (AWS on 443) refuses a ClientHello without it with alert 120,
 * which arrives here as `tls-alert` naming ALPN, as in hal/sim.
 */
import type { LinkError, LinkErrorCategory } from '../types';

/** How far the connection got. */
export type TlsStage = 'resolve' | 'tcp' | 'tls' | 'open';

/** Socket callback messages (modules/network/socket: `Socket.disconnected`, `Socket.error`). */
export const SOCKET_DISCONNECTED = -1;
export const SOCKET_ERROR = -2;

export interface TlsFailureFacts {
  stage: TlsStage;
  host: string;
  port: number;
  serverName: string;
  /** The exception the socket or TLS code threw, when there was one. */
  thrown?: { name?: string; message?: string };
  /** The fatal alert the server sent (Moddable's `session.alert`). */
  alert?: { level: number; description: number };
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

/** `alert: 2, 40` as thrown by ssl/alert when `session.alert` was not readable. */
const ALERT_MESSAGE = /^alert: (\d+), (\d+)/;

function oneLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0].slice(0, 160);
}

export function classifyTlsFailure(facts: TlsFailureFacts): LinkError {
  const where = `${facts.host}:${facts.port}`;
  const make = (category: LinkErrorCategory, message: string): LinkError => ({ category, message });
  const detail = oneLine(facts.thrown?.message);

  if (facts.stage === 'open') {
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
  if (facts.stage === 'tcp' && detail === 'no network') {
    // lwIP socket constructor on ESP32 when the station has no interface up.
    return make('wifi', `cannot open a socket to ${where}: no network interface — Wi-Fi is not associated`);
  }
  if (facts.stage === 'tcp') {
    return make('tcp', `connection to ${where} failed on TCP connect${detail ? ` (${detail})` : ''} — check host, port and that the endpoint is up`);
  }

  // stage 'tls'
  let alert = facts.alert;
  const parsed = ALERT_MESSAGE.exec(detail);
  if (!alert && parsed) alert = { level: Number(parsed[1]), description: Number(parsed[2]) };
  if (alert && facts.thrown) {
    return make('tls-alert', `server refused the handshake (${alertName(alert.description)}) — ${alertHint(alert.description, facts.serverName)}`);
  }
  if (alert) {
    // Moddable sets session.alert without throwing when it refuses the server's
    // version itself (ssl_handshake.js: ServerHello version below the minimum).
    return make('tls-handshake', `TLS handshake with ${where} failed (we sent ${alertName(alert.description)}) — the server must offer TLS 1.2`);
  }
  if (detail.startsWith('certificate: auth err')) {
    return make(
      'tls-cert',
      `server certificate rejected — check the trusted CA, that ${facts.serverName} is the endpoint name, and the clock (Moddable does not say which failed)`,
    );
  }
  if (detail.startsWith('certificateVerify: unimplemented')) {
    // Our own credential is unusable (Moddable signs CertificateVerify with RSA
    // only). The HAL has no category for "our key", and retrying cannot fix it,
    // so it takes the category that the supervisor treats as a credential fault.
    return make('tls-alert', 'the device key type is not supported by Moddable TLS (RSA only) — provision an RSA-2048 device key');
  }
  if (facts.thrown && facts.thrown.name !== 'TLS' && /write failed|can't write|closed socket|no network/.test(detail)) {
    return make('tcp', `connection to ${where} failed during the TLS handshake (${detail}) — check host, port and the network`);
  }
  if (!facts.thrown) {
    const why = facts.socketMessage === SOCKET_DISCONNECTED ? 'closed by peer' : 'socket error';
    return make('tcp', `connection to ${where} ended during the TLS handshake (${why}, no alert) — check host, port and that the endpoint speaks TLS`);
  }
  return make('tls-handshake', `TLS handshake with ${where} failed (${detail || 'unknown'}) — the server must offer TLS 1.2 with a suite the device supports`);
}

function alertHint(description: number, serverName: string): string {
  switch (description) {
    case 112: return `check that SNI ${serverName} is the endpoint name`;
    case 120: return 'check the ALPN offered (port 443 needs x-amzn-mqtt-ca)';
    case 70: return 'the server wants a TLS version the device does not offer (device: TLS 1.2)';
    default: return 'check that the device certificate is registered and active and its CA is known to the server';
  }
}
