/**
 * The device's secure streams, host side of `hal.network.openSecure`: each
 * stream is one connection attempt through `OpenSecureSocket` (real TLS over
 * the in-memory network or a socket, net/secure.ts, or the fleet's model
 * broker), reported to the firmware with the modelled handshake time of an
 * ESP32 (the host's TLS is far faster), counted for the summary and charged to
 * the energy meter.
 */
import type { LinkError } from '../../hal/types';
import { EVENTS } from '../../hal/events';
import { Op, bodyJson, message, withBody, withJson, type Message } from '../../hal/sim/wire';
import { createPrivateKey } from 'node:crypto';
import { ok, type BridgeTable } from '../device/bridge';
import type { DeviceContext } from '../device/context';
import type { TlsSessionCache } from './secure';
import type { TlsSessionStore } from './tls-session';
import { REPLY_GAP_WALL_MS, REPLY_WAIT_WALL_MS, type RealIo } from '../clock/real-io';

export interface SecureSocketEvents {
  onConnect(info: { alpn: string | undefined; resumed: boolean; protocol?: string | null }): void;
  onData(bytes: Uint8Array): void;
  onError(error: LinkError): void;
}

export type OpenSecureSocket = (
  options: {
    host: string; port: number; serverName: string; alpn: string[]; ca: string; cert: string; key: string; timeoutMs: number;
    /** The platform's session to offer and keep (absent: a full handshake, nothing kept). */
    sessionCache?: TlsSessionCache;
    /** Resume by ticket as well as by session id. */
    tickets?: boolean;
    maxVersion?: '1.2' | '1.3';
    /** The device's RTC (epoch ms, NaN when unset): the server's chain must be valid at it (net/secure.ts checkChainDates). */
    deviceClock: () => number;
  },
  events: SecureSocketEvents,
) => { write(bytes: Uint8Array): void; close(): void };

export interface StreamsOptions {
  /** The credential files the firmware names (its flashed resources), text by name. */
  credentials: Readonly<Record<string, string>>;
  /** Host name to an address the opener understands; undefined: the name does not resolve. */
  resolve(host: string, port: number): { host: string; port: number } | undefined;
  /** Host TLS client: real TLS over the in-memory network or a socket (net/secure.ts), or the fleet's model broker. */
  openSecureSocket: OpenSecureSocket;
  /** How long a handshake (TCP connect included) takes on the device, full or resumed, ms (the meter's costs). */
  handshakeMs(resumed: boolean): number;
  /** The station is associated. */
  online(): boolean;
  /** The device's RTC wall clock, epoch ms (NaN when never set): certificate dates are checked against it. */
  wallMs(): number;
  /** The platform's TLS session (net/tls-session.ts) and what its TLS declares. */
  session: TlsSessionStore;
}

interface StreamState {
  socket: { write(bytes: Uint8Array): void; close(): void } | undefined;
  closed: boolean;
  /** Real sockets: a reply is due (clock/real-io.ts); called when bytes come back. */
  replyDue?: () => void;
  /** Real sockets: writes marked `reply` not yet matched by a chunk coming back. */
  repliesDue: number;
}

export class SecureStreams {
  /** Secure streams opened (each is one connection attempt), and when. */
  connects = 0;
  readonly connectTimes: number[] = [];
  bytesTx = 0;
  bytesRx = 0;
  tlsHandshakes = 0;
  /** Handshakes that resumed a session (also counted in tlsHandshakes). */
  tlsResumed = 0;
  tlsFailures: Record<string, number> = {};
  /** Fault injection: name resolution fails. */
  dnsDown = false;
  private streams = new Map<number, StreamState>();
  /** Bumped when the machine halts: callbacks of its sockets are ignored afterwards. */
  private generation = 0;
  /**
   * Socket operations the firmware asked for during the delivery running now.
   * They run when the delivery is over (`flush`), in order, so nothing in Node
   * runs while the firmware does: where Node's stream callbacks fall relative
   * to the firmware's calls cannot change the run.
   */
  private outbox: (() => void)[] = [];

  constructor(private readonly ctx: DeviceContext, private readonly options: StreamsOptions) {}

  /** Run the socket operations of the delivery that just ended. */
  flush(): void {
    const ops = this.outbox;
    this.outbox = [];
    for (const op of ops) op();
  }

  /** The machine stopped: every stream closes with it. */
  halt(): void {
    this.flush();
    this.generation++;
    for (const stream of this.streams.values()) this.closeNow(stream);
    this.streams.clear();
  }

  readonly bridge: BridgeTable = {
    [Op.TlsOpen]: (m) => {
      this.open(m);
      return ok(m);
    },
    [Op.TlsWrite]: (m) => this.write(m),
    [Op.TlsWriteReply]: (m) => this.write(m),
    [Op.TlsEnd]: (m) => {
      this.drop(m.id);
      const id = m.id;
      this.ctx.post(() => message(Op.TlsEnded, id, 0).bytes);
      return ok(m);
    },
    [Op.TlsClose]: (m) => {
      this.drop(m.id);
      return ok(m);
    },
  };

  private get scheduler() {
    return this.ctx.scheduler;
  }

  private drop(id: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.streams.delete(id);
    this.outbox.push(() => this.closeNow(stream));
  }

  /**
   * Real sockets: hold the clock for `stream`'s next reply, at most `boundMs` of wall time; once that
   * passes the broker is not answering the writes still counted, and none is awaited any more.
   */
  private holdForReply(stream: StreamState, realIo: RealIo, boundMs: number): void {
    stream.replyDue = realIo.replyDue(boundMs, () => {
      stream.replyDue = undefined;
      stream.repliesDue = 0;
    });
  }

  private closeNow(stream: StreamState): void {
    stream.closed = true;
    stream.replyDue?.();
    stream.socket?.close();
  }

  private write(m: Message): Uint8Array {
    const stream = this.streams.get(m.id);
    if (stream?.socket && !stream.closed) {
      this.bytesTx += m.body.length;
      this.ctx.meter.bytes(m.body.length, true);
      const realIo = this.scheduler.realIo;
      if (realIo) {
        if (m.op === Op.TlsWriteReply) {
          stream.repliesDue++;
          if (!stream.replyDue) this.holdForReply(stream, realIo, REPLY_WAIT_WALL_MS);
        } else realIo.touch();
      }
      const bytes = m.body.slice();
      this.outbox.push(() => {
        if (!stream.closed) stream.socket!.write(bytes);
      });
    }
    return ok(m);
  }

  private open(m: Message): void {
    const id = m.id;
    this.connects++;
    this.connectTimes.push(this.scheduler.now);
    const options = bodyJson<{
      host: string; port: number; serverName: string; alpn: string[];
      credentials: { ca: string; certificate: string; key: string }; timeoutMs: number;
      resume?: boolean; maxVersion?: '1.2' | '1.3';
    }>(m);
    const stream: StreamState = { socket: undefined, closed: false, repliesDue: 0 };
    this.streams.set(id, stream);
    const fail = (error: LinkError) => {
      this.tlsFailures[error.category] = (this.tlsFailures[error.category] ?? 0) + 1;
      this.ctx.record(EVENTS.tlsError, { category: error.category, message: error.message });
      this.streams.delete(id);
      return withJson(Op.TlsError, id, error);
    };
    if (!this.options.online()) {
      this.ctx.post(() => fail({ category: 'wifi', message: 'no network: Wi-Fi is not associated' }));
      return;
    }
    this.ctx.meter.dns();
    const target = this.dnsDown ? undefined : this.options.resolve(options.host, options.port);
    if (!target) {
      this.ctx.post(() => fail({ category: 'dns', message: `cannot resolve ${options.host}` }));
      return;
    }
    const files = this.options.credentials;
    const names = { ca: options.credentials.ca, cert: options.credentials.certificate, key: options.credentials.key };
    const missing = Object.values(names).find((name) => !Object.hasOwn(files, name));
    if (missing !== undefined) {
      this.ctx.post(() => fail({ category: 'tls-handshake', message: `credential file missing: ${missing}` }));
      return;
    }
    const credentials = { ca: files[names.ca], cert: files[names.cert], key: files[names.key] };
    const keyType = privateKeyType(credentials.key);
    const tls = this.options.session.tls;
    if (keyType && !tls.keyTypes.includes(keyType)) {
      this.ctx.post(() => fail({ category: 'tls-handshake', message: `this platform's TLS (${tls.implementation}) cannot sign with a ${keyType} device key; it signs with ${tls.keyTypes.join(', ')}` }));
      return;
    }
    const session = this.options.session;
    const offer = options.resume !== false && session.offered;
    const tlsOptions = {
      sessionCache: offer ? session : undefined,
      tickets: session.tickets,
      maxVersion: options.maxVersion === '1.3' && tls.maxVersion === '1.3' ? '1.3' as const : '1.2' as const,
      deviceClock: () => this.options.wallMs(),
    };
    const started = this.scheduler.now;
    const generation = this.generation;
    const realIo = this.scheduler.realIo;
    let settled = false;
    realIo?.beginIo();
    // The device's connect deadline runs on virtual time.
    const deadline = this.ctx.later(options.timeoutMs, () => {
      if (settled || stream.closed) return undefined;
      settle();
      this.closeNow(stream);
      return fail({ category: 'timeout', message: `no TLS session within ${options.timeoutMs} ms` });
    });
    const settle = () => {
      if (!settled) {
        settled = true;
        deadline.cancel();
        realIo?.endIo();
      }
    };
    /** Deliver no earlier than the modelled handshake time: the host's TLS is far faster than an ESP32's. */
    const atModelledTime = (bytes: () => Uint8Array, resumed = false) => {
      const wait = Math.max(0, started + this.options.handshakeMs(resumed) - this.scheduler.now);
      if (wait > 0) this.ctx.later(wait, bytes);
      else this.ctx.post(bytes);
    };
    this.outbox.push(() => {
      if (stream.closed) return;
      stream.socket = this.options.openSecureSocket(
        // A real socket gets a generous wall-clock deadline of its own; the in-memory network ignores it.
        { host: target.host, port: target.port, serverName: options.serverName, alpn: options.alpn, ...credentials, ...tlsOptions, timeoutMs: 120_000 },
        {
          onConnect: (info) => {
            settle();
            if (stream.closed || generation !== this.generation) return;
            this.tlsHandshakes++;
            if (info.resumed) this.tlsResumed++;
            this.ctx.meter.handshake(info.resumed, this.options.handshakeMs(info.resumed));
            this.ctx.record(EVENTS.tlsConnected, { alpn: info.alpn ?? null, protocol: info.protocol ?? null, resumed: info.resumed });
            atModelledTime(() => withJson(Op.TlsConnected, id, { alpn: info.alpn, resumed: info.resumed }), info.resumed);
          },
          onData: (bytes) => {
            if (stream.closed || generation !== this.generation) return;
            this.bytesRx += bytes.length;
            this.ctx.meter.bytes(bytes.length, false);
            if (realIo) {
              stream.replyDue?.();
              stream.replyDue = undefined;
              stream.repliesDue = Math.max(0, stream.repliesDue - 1);
              if (stream.repliesDue > 0) this.holdForReply(stream, realIo, REPLY_GAP_WALL_MS);
              realIo.touch();
            }
            this.ctx.post(() => (stream.closed ? undefined : withBody(Op.TlsData, id, bytes)));
          },
          onError: (error) => {
            settle();
            stream.replyDue?.();
            stream.replyDue = undefined;
            if (stream.closed || generation !== this.generation) return;
            stream.closed = true;
            atModelledTime(() => fail(error));
          },
        },
      );
    });
  }
}

const keyTypes = new Map<string, 'rsa-2048' | 'ec-p256' | undefined>();

/** The HAL's name for the device key's type, or undefined when the key does not parse (the TLS client then reports it). */
function privateKeyType(pem: string): 'rsa-2048' | 'ec-p256' | undefined {
  if (!keyTypes.has(pem)) keyTypes.set(pem, parseKeyType(pem));
  return keyTypes.get(pem);
}

function parseKeyType(pem: string): 'rsa-2048' | 'ec-p256' | undefined {
  try {
    const key = createPrivateKey(pem);
    const details = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 2048) return 'rsa-2048';
    if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ec-p256';
  } catch {
    // fall through
  }
  return undefined;
}
