/**
 * Module `hal/moddable/native/tls`: tls.js + tls.c over tls-engine.c (an Mbed TLS 4
 * client over memory buffers) and tls-store.c (the retained session). The same
 * C on every Moddable target: ESP-IDF 6.0's Mbed TLS on ESP32, Mbed TLS built
 * beside the project on Linux (mcsim). hal/moddable/secure-stream.ts pumps the
 * bytes between an Engine and Moddable's TCP socket.
 */

/** `handshake()`: 0 done (handshake complete and checked), 1 needs more bytes, 2 failed (see `failure()`). */
export type HandshakeStatus = 0 | 1 | 2;

/**
 * What `failure()` reports (tls-engine.h flTlsFailureKind; named in
 * hal/moddable/tls-errors.ts `FailureKind`): 1 our credentials (`what` names
 * which), 2 we rejected the server's chain (`verifyFlags`: MBEDTLS_X509_BADCERT_*),
 * 3 the server's fatal alert (`alert`, -1 when encrypted), 4 ALPN (server
 * selected none: `alpn` '', or another: `alpn`), 5 a version below TLS 1.2,
 * 6 another handshake failure (`code`), 7 close_notify, 8 a bad record after
 * the handshake, 9 out of memory, 10 the server refused our ClientHello with
 * handshake_failure, protocol_version or insufficient_security (`alert`): no
 * common TLS version or cipher suite.
 */
export type FailureKind = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/** [kind, code, verifyFlags, alert, alpn, what] */
export type EngineFailure = [kind: FailureKind, code: number, verifyFlags: number, alert: number, alpn: string, what: string];

/** [version (0x0303 | 0x0304), resumed, alpn, ciphersuite, sessionOffered, sessionBytes (-1: did not fit), device key type ("rsa-2048", "ec-p256", ...)] */
export type EngineInfo = [version: number, resumed: boolean, alpn: string | undefined, ciphersuite: string, sessionOffered: boolean, sessionBytes: number, keyType: string];

/**
 * One TLS client connection. Never blocks: `handshake()` and `read()` return
 * when they need bytes not fed yet. Verification is always on; SNI is always
 * `serverName`; with ALPN offered the server must select an offered protocol.
 * A session kept in the retained store for the same server name, port, CA and
 * device certificate is offered when `resume` is true and it has not expired.
 */
export class Engine {
  /**
   * Never throws for bad credentials: `failure()` then reports `Credentials`.
   * @param alpn comma-separated protocols, '' for none
   * @param maxVersion 0x0303 or 0x0304
   */
  constructor(ca: ArrayBuffer, certificate: ArrayBuffer, key: ArrayBuffer, serverName: string, port: number, alpn: string, maxVersion: number, resume: boolean);
  handshake(): HandshakeStatus;
  /** Ciphertext from the server. */
  feed(bytes: ArrayBuffer): void;
  /** Ciphertext bytes waiting to go to the server. */
  readonly pending: number;
  /** Up to `max` bytes of ciphertext to send, or undefined. */
  take(max: number): ArrayBuffer | undefined;
  /** Encrypts `bytes` from `offset`; returns the count consumed (less when the output is backed up), -1 after a failure. */
  write(bytes: ArrayBuffer, offset: number): number;
  /** Decrypted bytes, 0 when nothing is complete, -1 after a failure (including the server's close_notify). */
  read(): ArrayBuffer | 0 | -1;
  /** Queues close_notify. */
  closeNotify(): void;
  info(): EngineInfo | undefined;
  failure(): EngineFailure | undefined;
  /** Frees the connection's memory at once; `failure()` stays readable. */
  close(): void;
}

/** Bytes from the PSA random generator (ESP32: hardware entropy; Linux: the OS's). At most 1024. */
export function randomBytes(count: number): ArrayBuffer;
/** Forgets the retained session (tests; a wake that must not resume). */
export function clearSession(): void;
/** Bytes of the retained session, 0 when none is kept. */
export function sessionLength(): number;
/** [current, peak] bytes held by Mbed TLS and the engines, or undefined where they are not counted (ESP32). */
export function heap(): [current: number, peak: number] | undefined;
export function resetHeapPeak(): void;
export function supportsTls13(): boolean;
