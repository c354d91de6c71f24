/**
 * The host side of the simulator's TLS stream: what `hal/sim`'s
 * `network.openSecure` reaches through the bridge. It keeps the device's
 * semantics so the simulator cannot pass where the device would fail:
 *
 * - verification is always on (there is no option to turn it off);
 * - SNI is always sent and the server's name is checked against it;
 * - ALPN is always offered when given, and a server that selects none of the
 *   offered protocols fails the connection (category `alpn`) before any
 *   application byte is written;
 * - TLS 1.2 unless `maxVersion` is 1.3 (the simulator allows it only where
 *   the platform declares TLS 1.3); AWS accepts 1.2;
 * - certificate dates are checked twice: by Node against the host's clock,
 *   and, given `deviceClock`, against the device's wall clock as the device's
 *   Mbed TLS does (`checkChainDates`), so a wrong device clock fails as
 *   `tls-cert` with reason `time` here too.
 *
 * Every failure is classified into the HAL's `LinkErrorCategory` by
 * `classifySocketError`, a pure function. `onError` fires at most once; after
 * it, or after `close()`, no callback fires.
 */
import type { Duplex } from 'node:stream';
import { constants, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { CertFailure, LinkError, LinkErrorCategory } from '../../hal/types';

export interface SecureSocketOptions {
  host: string;
  port: number;
  /** SNI and the name the certificate must match; always sent. */
  serverName: string;
  /** ALPN protocols offered; when non-empty the server must select one of them. */
  alpn: string[];
  /** Trusted root(s), PEM. */
  ca: string;
  /** Device certificate (chain), PEM. */
  cert: string;
  /** Device private key, PEM. Never logged, never part of a message. */
  key: string;
  /** Deadline for TCP connect plus TLS handshake, wall ms; 0: none (the caller keeps its own, e.g. on virtual time). */
  timeoutMs: number;
  /**
   * Run TLS over this connected stream instead of opening a TCP connection to
   * `host:port` (the simulator's in-memory network, net/memory.ts); `host` and
   * `port` then only name the peer in messages.
   */
  socket?: Duplex;
  /** Where to keep the session for resumption (one per simulated device); none: always a full handshake. */
  sessionCache?: TlsSessionCache;
  /** Send and accept RFC 5077 session tickets (default true); false: resume by session id only. */
  tickets?: boolean;
  /** Highest version offered (default 1.2). */
  maxVersion?: '1.2' | '1.3';
  /**
   * The device's wall clock (epoch ms; NaN when it was never set): every
   * certificate of the server's chain must be valid at it (`checkChainDates`).
   * Absent: only Node's check against the host's clock (a host-side client).
   */
  deviceClock?: () => number;
}

/**
 * Moddable's TLS keeps a single session in RAM and offers it on the next
 * handshake; a simulated device holds one of these to do the same.
 */
export class TlsSessionCache {
  private entry: { key: string; session: Buffer } | undefined;

  get(key: string): Buffer | undefined {
    return this.entry?.key === key ? this.entry.session : undefined;
  }

  set(key: string, session: Buffer): void {
    this.entry = { key, session };
  }

  clear(): void {
    this.entry = undefined;
  }
}

export interface SecureConnectInfo {
  /** The selected ALPN protocol, `undefined` when none was offered. */
  alpn: string | undefined;
  resumed: boolean;
  /** Negotiated TLS version, e.g. `TLSv1.2`. */
  protocol: string;
}

export interface SecureSocketEvents {
  onConnect(info: SecureConnectInfo): void;
  onData(bytes: Uint8Array): void;
  onError(error: LinkError): void;
}

export interface SecureSocket {
  /**
   * Queue bytes (copied before return). Throws before `onConnect` and after
   * `close()`; ignored after `onError`, which the caller may not have seen yet.
   */
  write(bytes: Uint8Array): void;
  /** Close without a further callback. Idempotent. */
  close(): void;
}

/** How far the connection got when it failed. */
export type SocketStage = 'tcp' | 'tls' | 'open';

export interface ErrorLike {
  code?: string;
  message?: string;
  /** OpenSSL's reason text, which Node puts on TLS errors. */
  reason?: string;
}

export interface ClassifyContext {
  stage: SocketStage;
  host: string;
  port: number;
  serverName: string;
  /** ALPN protocols offered. */
  alpn: string[];
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const TCP_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EADDRNOTAVAIL',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT']);
/** Node's names for X509_V_ERR_* plus its own host-name check. */
const CERT_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  // Security level 2 (see openSecureSocket): a weak signature hash or key on the chain.
  'CA_MD_TOO_WEAK',
  'CA_KEY_TOO_SMALL',
  'EE_KEY_TOO_SMALL',
  // Node has no name for some verify errors (X509_V_ERR_KEYUSAGE_NO_CERTSIGN: an
  // issuer that may not sign certificates) and reports them as UNSPECIFIED.
  'KEYUSAGE_NO_CERTSIGN',
  'UNSPECIFIED',
]);
/**
 * OpenSSL turns a received alert into reason `SSLV3_ALERT_*`, `TLSV1_ALERT_*`,
 * `TLSV13_ALERT_*` or one of the RFC 6066 alerts (`TLSV1_UNRECOGNIZED_NAME`,
 * ...), and says "SSL alert number N".
 */
const ALERT_CODE = /^ERR_SSL_(SSLV3_ALERT_|TLSV1_ALERT_|TLSV13_ALERT_|TLSV1_UNRECOGNIZED_NAME|TLSV1_UNSUPPORTED_EXTENSION|TLSV1_CERTIFICATE_UNOBTAINABLE|TLSV1_BAD_CERTIFICATE)/;

/**
 * Sorts a socket failure into the HAL's categories and writes the one-line
 * message. Pure: depends only on its arguments.
 *
 * Decisions worth knowing:
 * - An alert the server sent is `tls-alert`, including `protocol_version`: the
 *   server refused what we offered. A version we refused ourselves
 *   (`ERR_SSL_UNSUPPORTED_PROTOCOL`, a server offering TLS 1.0/1.1) or a peer
 *   that does not speak TLS (`WRONG_VERSION_NUMBER`) is `tls-handshake`.
 * - A reset or EOF during the handshake without an alert is `tcp`: it cannot be
 *   told apart from a network reset, and a retry is the right response to both.
 * - Once open, every failure is `closed`.
 */
export function classifySocketError(error: ErrorLike, context: ClassifyContext): LinkError {
  const code = error.code ?? '';
  const detail = oneLine(error.reason ?? error.message ?? code);
  const tag = code ? `${code}: ${detail}` : detail;
  const where = `${context.host}:${context.port}`;
  const make = (category: LinkErrorCategory, message: string): LinkError => ({ category, message: redact(message) });

  if (context.stage === 'open') {
    return make('closed', `connection to ${where} lost (${tag || 'closed by peer'}) — reconnect`);
  }
  if (DNS_CODES.has(code)) {
    return make('dns', `cannot resolve ${context.host} (${code}) — check the endpoint name and DNS`);
  }
  if (TIMEOUT_CODES.has(code)) {
    return make('timeout', `no TLS session with ${where} in time (${code}) — check reachability and the port`);
  }
  if (CERT_CODES.has(code)) {
    return {
      ...make(
        'tls-cert',
        `server certificate rejected (${tag}) — check the trusted CA, that ${context.serverName} is the endpoint name, and the clock`,
      ),
      reason: certFailure(code),
    };
  }
  if (code === 'ERR_SSL_BAD_EXTENSION' && context.alpn.length > 0) {
    // OpenSSL's answer to a ServerHello whose ALPN selection we did not offer
    // (tls_parse_stoc_alpn); the device's Mbed TLS reports it as `alpn` too.
    return alpnError(context.alpn, 'an unoffered protocol', context);
  }
  if (ALERT_CODE.test(code) || /alert number \d+/.test(error.message ?? '')) {
    return make('tls-alert', `server refused the handshake (${tag}) — ${alertHint(code, context)}`);
  }
  if (TCP_CODES.has(code)) {
    const during = context.stage === 'tls' ? 'during the TLS handshake' : 'on TCP connect';
    return make('tcp', `connection to ${where} failed ${during} (${code}) — check host, port and that the endpoint is up`);
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_OSSL_') || context.stage === 'tls') {
    const hint =
      code === 'ERR_SSL_WRONG_VERSION_NUMBER'
        ? 'the port does not seem to speak TLS (a plain MQTT port?)'
        : 'the server must offer TLS 1.2 with a suite the device supports';
    return make('tls-handshake', `TLS handshake with ${where} failed (${tag}) — ${hint}`);
  }
  return make('tcp', `connection to ${where} failed (${tag || 'unknown error'}) — check host, port and the network`);
}

/** Which check an OpenSSL/Node certificate code reports. */
function certFailure(code: string): CertFailure {
  if (/NOT_YET_VALID|HAS_EXPIRED|_NOT_BEFORE_FIELD|_NOT_AFTER_FIELD/.test(code)) return 'time';
  if (code === 'HOSTNAME_MISMATCH' || code.startsWith('ERR_TLS_CERT_ALTNAME')) return 'name';
  if (code === 'INVALID_PURPOSE') return 'usage';
  return 'untrusted';
}

function alertHint(code: string, context: ClassifyContext): string {
  if (code.includes('UNRECOGNIZED_NAME')) return `check that SNI ${context.serverName} is the endpoint name`;
  if (code.includes('NO_APPLICATION_PROTOCOL')) return 'check the ALPN offered (port 443 needs x-amzn-mqtt-ca)';
  if (code.includes('PROTOCOL_VERSION')) return 'the server wants a TLS version the device does not offer (device: TLS 1.2)';
  return 'check that the device certificate is registered and active and its CA is known to the server';
}

/** The failure when ALPN was offered and the server selected none of it. */
export function alpnError(offered: string[], selected: string | false | null | undefined, context: ClassifyContext): LinkError {
  const got = selected ? `"${selected}"` : 'none';
  return {
    category: 'alpn',
    message: `server at ${context.host}:${context.port} selected ALPN ${got}, not ${offered.join('/')} — AWS needs ALPN ${offered[0]} on port 443 (or use port 8883 without ALPN)`,
  };
}

/**
 * The client's TLS context (trust, certificate, key, versions, tickets): made
 * once per set of options, as a device loads its credentials once, instead of
 * parsing the PEM files at every connect. A handful of entries at most.
 */
const contexts = new Map<string, tls.SecureContext>();

function clientContext(options: SecureSocketOptions): tls.SecureContext {
  const maxVersion = options.maxVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
  const tickets = options.tickets !== false;
  const key = JSON.stringify([options.ca, options.cert, options.key, maxVersion, tickets]);
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      minVersion: 'TLSv1.2',
      maxVersion,
      secureOptions: tickets ? undefined : constants.SSL_OP_NO_TICKET,
      // OpenSSL security level 2 refuses what the device's Mbed TLS profile refuses:
      // SHA-1 signatures on the chain, RSA keys below 2048 bits (hal/moddable/native/tls-engine.c).
      ciphers: 'DEFAULT@SECLEVEL=2',
    });
    if (contexts.size >= 16) contexts.delete(contexts.keys().next().value!);
    contexts.set(key, context);
  }
  return context;
}

export function openSecureSocket(options: SecureSocketOptions, events: SecureSocketEvents): SecureSocket {
  const context: ClassifyContext = { stage: options.socket ? 'tls' : 'tcp', host: options.host, port: options.port, serverName: options.serverName, alpn: options.alpn };
  let state: 'connecting' | 'open' | 'failed' | 'closed' = 'connecting';

  const sessionKey = `${options.host}:${options.port}:${options.serverName}`;
  let socket: tls.TLSSocket;
  try {
    socket = tls.connect({
      ...(options.socket ? { socket: options.socket } : { host: options.host, port: options.port }),
      servername: options.serverName,
      ALPNProtocols: options.alpn.length > 0 ? options.alpn : undefined,
      secureContext: clientContext(options),
      rejectUnauthorized: true,
      session: options.sessionCache?.get(sessionKey),
    });
  } catch (error) {
    // Credentials that do not load are misuse, not a network failure. The message
    // names the problem only: Node's text could describe the key.
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`openSecureSocket: the TLS credentials could not be loaded (${code}) — check ca, cert and key are PEM and that key matches cert`);
  }

  const deadline = options.timeoutMs > 0
    ? setTimeout(() => fail({ code: 'ETIMEDOUT', message: `no session after ${options.timeoutMs} ms` }), options.timeoutMs)
    : undefined;

  function finish(): void {
    clearTimeout(deadline);
    socket.removeAllListeners();
    socket.on('error', () => {});
    socket.destroy();
  }

  function fail(error: ErrorLike | LinkError): void {
    if (state === 'failed' || state === 'closed') return;
    const link = 'category' in error ? error : classifySocketError(error, context);
    state = 'failed';
    finish();
    events.onError(link);
  }

  socket.on('session', (session: Buffer) => options.sessionCache?.set(sessionKey, session));
  socket.once('connect', () => {
    context.stage = 'tls';
  });
  socket.once('secureConnect', () => {
    if (state !== 'connecting') return;
    const selected = socket.alpnProtocol;
    if (options.alpn.length > 0 && (typeof selected !== 'string' || !options.alpn.includes(selected))) {
      fail(alpnError(options.alpn, selected, context));
      return;
    }
    // A resumed handshake carries no certificate, and Mbed TLS checks no date then either.
    const dates = options.deviceClock && !socket.isSessionReused()
      ? checkChainDates(peerChain(socket.getPeerCertificate(true)), options.deviceClock(), options.serverName)
      : undefined;
    if (dates) {
      fail(dates);
      return;
    }
    clearTimeout(deadline);
    context.stage = 'open';
    state = 'open';
    events.onConnect({
      alpn: typeof selected === 'string' ? selected : undefined,
      resumed: socket.isSessionReused(),
      protocol: socket.getProtocol() ?? 'unknown',
    });
  });
  socket.on('data', (chunk: Buffer) => {
    if (state === 'open') events.onData(new Uint8Array(chunk));
  });
  socket.on('error', (error: ErrorLike) => fail(error));
  socket.on('end', () => fail({ code: 'ECONNRESET', message: 'peer closed the connection' }));
  socket.on('close', () => fail({ code: 'ECONNRESET', message: 'connection closed' }));

  return {
    write(bytes: Uint8Array): void {
      if (state === 'closed') throw new Error('SecureSocket.write after close()');
      if (state === 'connecting') throw new Error('SecureSocket.write before onConnect');
      if (state === 'failed') return;
      socket.write(Buffer.from(bytes));
    },
    close(): void {
      if (state === 'closed') return;
      const wasOpen = state === 'open';
      state = 'closed';
      clearTimeout(deadline);
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (wasOpen) socket.end(() => socket.destroy());
      else socket.destroy();
    },
  };
}

/**
 * The device's date check (hal/moddable/native/tls-engine.c runs Mbed TLS 4.0's
 * `x509_crt_verify_chain`): every certificate of the verified chain, leaf to
 * trusted root, is expired when its notAfter is before the device's clock and
 * not yet valid when its notBefore is after it, at whole seconds
 * (`mbedtls_time`). A device that has no wall time reads the epoch plus its
 * uptime (ESP-IDF's `time()` before anything set it), so every certificate is
 * not yet valid: the device does not refuse to start the handshake, its
 * verification fails, `tls-cert` / `time` (hal/moddable/tls-errors.ts).
 * Undefined when every date holds.
 */
export function checkChainDates(chain: readonly Buffer[], deviceWallMs: number, serverName: string): LinkError | undefined {
  const nowS = Number.isFinite(deviceWallMs) ? Math.floor(deviceWallMs / 1000) : 0;
  const problems = new Set<string>();
  for (const der of chain) {
    const cert = new X509Certificate(der);
    if (Date.parse(cert.validTo) / 1000 < nowS) problems.add('expired');
    if (Date.parse(cert.validFrom) / 1000 > nowS) problems.add('not yet valid');
  }
  if (problems.size === 0) return undefined;
  const clock = Number.isFinite(deviceWallMs) ? new Date(nowS * 1000).toISOString() : 'not set';
  return {
    category: 'tls-cert',
    reason: 'time',
    message: `server certificate for ${serverName} rejected (${[...problems].join('; ')} at the device clock, ${clock}) — check the device clock (SNTP) and the certificate dates`,
  };
}

/** The DER chain the peer presented, leaf first (on a client: ending at the trusted root Node verified it against). */
export function peerChain(peer: tls.DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  let current: tls.DetailedPeerCertificate | undefined = peer;
  while (current?.raw && chain.length < 8) {
    chain.push(current.raw);
    if (current.issuerCertificate === current) break;
    current = current.issuerCertificate;
  }
  return chain;
}

function oneLine(text: string): string {
  // OpenSSL's message carries a hex prefix and a source path; keep the reason part.
  const line = text.split('\n')[0].trim();
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(line);
  return (ssl ? ssl[1] : line).slice(0, 160);
}

/** Belt and braces: a message never carries anything that looks like key material. */
function redact(message: string): string {
  return message.replace(/-----BEGIN[\s\S]*?(-----END[^-]*-----|$)/g, '[redacted]').replace(/[A-Za-z0-9+/=]{64,}/g, '[redacted]');
}
