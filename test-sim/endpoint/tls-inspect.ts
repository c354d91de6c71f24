/**
 * Reads the client's plaintext TLS handshake so the endpoint can refuse a
 * connection the way AWS IoT does, with a fatal alert *during* the handshake:
 *
 * - ClientHello without SNI equal to the endpoint name -> unrecognized_name (112)
 * - ClientHello without the required ALPN protocol     -> no_application_protocol (120)
 * - TLS 1.2 client Certificate that is empty            -> handshake_failure (40)
 *   ... expired or not yet valid                        -> certificate_expired (45)
 *   ... not chaining to a trusted CA                    -> unknown_ca (48)
 *
 * Node's TLS server cannot do the last three itself: it accepts any client
 * certificate during the handshake and checks it afterwards, so a client would
 * see a completed handshake and then a reset. In TLS 1.3 the client's
 * certificate is encrypted, so it is checked after the handshake instead
 * (`verifyClientChain` on the peer's chain) and the connection is dropped.
 *
 * Records: RFC 5246 6.2 (type, version, length); handshake messages: RFC 5246
 * 7.4 (type, 24-bit length); extensions: RFC 6066 3 (server_name), RFC 7301 3.1 (ALPN).
 */
import { X509Certificate } from 'node:crypto';

export const Alert = Object.freeze({
  handshakeFailure: 40,
  badCertificate: 42,
  certificateExpired: 45,
  unknownCa: 48,
  unrecognizedName: 112,
  noApplicationProtocol: 120,
});

export type HandshakeRejection =
  | 'sni'
  | 'alpn'
  | 'no-client-cert'
  | 'client-cert-expired'
  | 'client-cert-untrusted'
  | 'client-cert-invalid';

export interface Refusal {
  reason: HandshakeRejection;
  alert: number;
  detail: string;
}

export interface ClientHelloInfo {
  /** `legacy_version` of the ClientHello, e.g. 0x0303. */
  version: number;
  serverName: string | undefined;
  alpn: string[] | undefined;
}

export interface HandshakePolicy {
  /** SNI the ClientHello must carry, or `false` to accept any (or none). */
  serverName: string | false;
  /** ALPN protocol the ClientHello must offer, or `false`. */
  requiredAlpn: string | false;
  /** Trusted issuers of device certificates. */
  clientCas: X509Certificate[];
  /** Wall clock for certificate dates. */
  wallClock: () => Date;
}

const RECORD_HANDSHAKE = 22;
const MSG_CLIENT_HELLO = 1;
const MSG_CERTIFICATE = 11;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const MAX_RECORD = 16384 + 2048;

/** A fatal alert record (RFC 5246 7.2) in the given record version. */
export function alertRecord(description: number, version = 0x0303): Buffer {
  return Buffer.from([21, version >> 8, version & 0xff, 0, 2, 2, description]);
}

/** Parses a ClientHello body (after the 4-byte handshake header). Throws on malformed input. */
export function parseClientHello(body: Buffer): ClientHelloInfo {
  const r = new Reader(body);
  const version = r.u16();
  r.skip(32); // random
  r.skip(r.u8()); // session id
  r.skip(r.u16()); // cipher suites
  r.skip(r.u8()); // compression methods
  let serverName: string | undefined;
  let alpn: string[] | undefined;
  if (r.remaining() > 0) {
    const ext = new Reader(r.bytes(r.u16()));
    while (ext.remaining() > 0) {
      const type = ext.u16();
      const data = new Reader(ext.bytes(ext.u16()));
      if (type === EXT_SERVER_NAME) {
        const list = new Reader(data.bytes(data.u16()));
        while (list.remaining() > 0) {
          const nameType = list.u8();
          const name = list.bytes(list.u16());
          if (nameType === 0) serverName = name.toString('ascii');
        }
      } else if (type === EXT_ALPN) {
        const list = new Reader(data.bytes(data.u16()));
        alpn = [];
        while (list.remaining() > 0) alpn.push(list.bytes(list.u8()).toString('latin1'));
      }
    }
  }
  return { version, serverName, alpn };
}

/** The DER certificates of a TLS 1.2 Certificate message body. */
export function parseCertificateList(body: Buffer): Buffer[] {
  const r = new Reader(body);
  const list = new Reader(r.bytes(r.u24()));
  const certs: Buffer[] = [];
  while (list.remaining() > 0) certs.push(list.bytes(list.u24()));
  return certs;
}

export function checkClientHello(hello: ClientHelloInfo, policy: HandshakePolicy): Refusal | undefined {
  if (policy.serverName !== false) {
    const sent = hello.serverName?.replace(/\.$/, '').toLowerCase();
    if (sent !== policy.serverName.toLowerCase()) {
      return {
        reason: 'sni',
        alert: Alert.unrecognizedName,
        detail: sent === undefined ? 'no SNI' : `SNI "${sent}" is not "${policy.serverName}"`,
      };
    }
  }
  if (policy.requiredAlpn !== false && !(hello.alpn ?? []).includes(policy.requiredAlpn)) {
    return {
      reason: 'alpn',
      alert: Alert.noApplicationProtocol,
      detail: hello.alpn === undefined ? 'no ALPN' : `ALPN [${hello.alpn.join(', ')}] lacks ${policy.requiredAlpn}`,
    };
  }
  return undefined;
}

/**
 * Checks a device certificate chain (leaf first, as sent) against trusted CAs:
 * dates of every certificate on the path, signatures, issuer names.
 */
/** Parsed certificates by DER: a device presents the same chain at every connect. */
const parsed = new Map<string, X509Certificate>();

function parseCertificate(der: Buffer): X509Certificate {
  const key = der.toString('base64');
  let cert = parsed.get(key);
  if (!cert) {
    cert = new X509Certificate(der);
    if (parsed.size >= 64) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, cert);
  }
  return cert;
}

export function verifyClientChain(chain: Buffer[], trusted: X509Certificate[], now: Date): Refusal | undefined {
  if (chain.length === 0) {
    return { reason: 'no-client-cert', alert: Alert.handshakeFailure, detail: 'no client certificate' };
  }
  let certs: X509Certificate[];
  try {
    certs = chain.map(parseCertificate);
  } catch {
    return { reason: 'client-cert-invalid', alert: Alert.badCertificate, detail: 'client certificate does not parse' };
  }
  let current = certs[0];
  for (let depth = 0; depth < 8; depth++) {
    if (now < new Date(current.validFrom) || now > new Date(current.validTo)) {
      return {
        reason: 'client-cert-expired',
        alert: Alert.certificateExpired,
        detail: `certificate "${current.subject.replace(/\n/g, ', ')}" is valid ${current.validFrom} .. ${current.validTo}`,
      };
    }
    if (trusted.some((ca) => current.checkIssued(ca) && current.verify(ca.publicKey))) return undefined;
    const issuer = certs.slice(1).find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) break;
    current = issuer;
  }
  return {
    reason: 'client-cert-untrusted',
    alert: Alert.unknownCa,
    detail: `client certificate issued by "${current.issuer.replace(/\n/g, ', ')}" does not chain to a trusted CA`,
  };
}

export type InspectResult =
  | { kind: 'forward'; bytes: Buffer[] }
  | { kind: 'refuse'; refusal: Refusal; alert: Buffer };

/**
 * Incremental reader of the client-to-server byte stream. Bytes are held until
 * every handshake message they complete has been checked, then forwarded.
 * After the first non-handshake record (ChangeCipherSpec, or anything that is
 * not TLS) it forwards everything unread: the rest is encrypted or not ours to judge.
 */
export class ClientHandshakeInspector {
  private pending: Buffer = Buffer.alloc(0);
  private held: Buffer[] = [];
  private messages: Buffer = Buffer.alloc(0);
  private passthrough = false;
  hello: ClientHelloInfo | undefined;
  /** A TLS 1.2 client Certificate message was read and its chain passed `verifyClientChain`. */
  clientChainChecked = false;

  constructor(private readonly policy: HandshakePolicy) {}

  feed(chunk: Buffer): InspectResult {
    if (this.passthrough) return { kind: 'forward', bytes: [chunk] };
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const ready: Buffer[] = [];
    while (this.pending.length >= 5) {
      const type = this.pending[0];
      const version = this.pending.readUInt16BE(1);
      const length = this.pending.readUInt16BE(3);
      if (type !== RECORD_HANDSHAKE || length > MAX_RECORD || this.pending[1] !== 3) {
        return { kind: 'forward', bytes: this.stopInspecting(ready) };
      }
      if (this.pending.length < 5 + length) break;
      const record = this.pending.subarray(0, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      this.messages = this.messages.length ? Buffer.concat([this.messages, record.subarray(5)]) : record.subarray(5);
      this.held.push(record);
      const refusal = this.checkMessages();
      if (refusal) return { kind: 'refuse', refusal, alert: alertRecord(refusal.alert, version) };
      if (this.messages.length === 0) {
        ready.push(...this.held);
        this.held = [];
      }
    }
    return { kind: 'forward', bytes: ready };
  }

  private stopInspecting(ready: Buffer[]): Buffer[] {
    this.passthrough = true;
    const out = [...ready, ...this.held, this.pending];
    this.held = [];
    this.pending = Buffer.alloc(0);
    return out.filter((b) => b.length > 0);
  }

  private checkMessages(): Refusal | undefined {
    while (this.messages.length >= 4) {
      const type = this.messages[0];
      const length = this.messages.readUIntBE(1, 3);
      if (this.messages.length < 4 + length) return undefined;
      const body = this.messages.subarray(4, 4 + length);
      this.messages = this.messages.subarray(4 + length);
      if (type === MSG_CLIENT_HELLO) {
        try {
          this.hello = parseClientHello(body);
        } catch {
          return undefined; // malformed: let the TLS server produce its own error
        }
        const refusal = checkClientHello(this.hello, this.policy);
        if (refusal) return refusal;
      } else if (type === MSG_CERTIFICATE) {
        let chain: Buffer[];
        try {
          chain = parseCertificateList(body);
        } catch {
          return { reason: 'client-cert-invalid', alert: Alert.badCertificate, detail: 'malformed Certificate message' };
        }
        const refusal = verifyClientChain(chain, this.policy.clientCas, this.policy.wallClock());
        if (refusal) return refusal;
        this.clientChainChecked = true;
      }
    }
    return undefined;
  }
}

class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}
  remaining(): number {
    return this.buffer.length - this.offset;
  }
  private need(n: number): void {
    if (this.offset + n > this.buffer.length) throw new RangeError('truncated TLS structure');
  }
  u8(): number {
    this.need(1);
    return this.buffer[this.offset++];
  }
  u16(): number {
    this.need(2);
    const v = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buffer.readUIntBE(this.offset, 3);
    this.offset += 3;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}
