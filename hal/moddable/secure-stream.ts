/**
 * `network.openSecure` on Moddable: Mbed TLS 4 (native/tls, C) over Moddable's
 * TCP `socket`, with this module pumping the bytes.
 *
 *   firmware bytes -> Engine.write (encrypt) -> Engine.take -> socket.write
 *   socket readable -> Engine.feed -> Engine.handshake / Engine.read -> onData
 *
 * The C engine works on memory queues only, so it has no platform socket code
 * and is the same on ESP32 and Linux (mcsim). Nothing waits on the network:
 * every handshake step runs when bytes arrive (socket callbacks), and a step
 * that needs more bytes returns. Verification, SNI, ALPN and the retained
 * session are the engine's (native/tls.d.ts).
 *
 * The name is resolved first with `Net.resolve`, so a DNS failure is reported
 * as `dns`; failures are sorted by tls-errors.ts.
 *
 * One TlsStream per connection: a class at module top level, so its methods
 * keep their byte code in flash (hal.ts explains why); callbacks handed to
 * Moddable's modules are bound methods.
 *
 * Credentials are read by name through credentials.ts. For a server name under
 * `.amazonaws.com` the trusted roots are the configured CA plus Amazon Root
 * CA 1 (RSA) and Amazon Root CA 3 (ECC), because AWS IoT presents either chain
 * depending on the negotiated cipher suite (resources AmazonRootCA1.der,
 * AmazonRootCA3.der: manifests/tls.json).
 */
import Net from 'net';
import { Socket } from 'socket';
import Time from 'time';
import Timer from 'timer';
import type { LinkError, LogValue, SecureConnectInfo, SecureStream, SecureStreamOptions } from '../types';
import { readCredential } from './credentials';
import { Engine, heap, resetHeapPeak } from './native/tls';
import { classifyTlsFailure, SOCKET_DISCONNECTED, SOCKET_ERROR, type EngineFailure, type TlsFailureFacts, type TlsStage } from './tls-errors';

/** Longest a graceful `end` waits for queued bytes to leave. */
const END_WAIT_MS = 200;
const END_POLL_MS = 10;

/** Socket callback messages (modules/network/socket/socket.js). */
const MSG_CONNECTED = 1;
const MSG_READABLE = 2;
const MSG_WRITABLE = 3;

const TLS_1_2 = 0x0303;
const TLS_1_3 = 0x0304;

const HANDSHAKE_DONE = 0;
const HANDSHAKE_FAILED = 2;

/** Extra trusted roots for AWS endpoints (see the module comment). */
const AWS_SERVER_NAME = /\.amazonaws\.com$/i;
const AWS_ROOTS = Object.freeze(['AmazonRootCA1.der', 'AmazonRootCA3.der']);

/**
 * No capturing group: XS 8.2.3 crashed mcsim in fx_RegExp_prototype_exec running
 * this preloaded (frozen) RegExp, with a capture, on an endpoint string read from
 * the credential store at run time.
 */
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** What the socket is at run time (typings/socket.d.ts has only a union). */
interface TcpSocket {
  callback: (message: number, value?: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  /** Free space in the transmit buffer. */
  write(): number;
  write(data: ArrayBuffer): void;
  close(): void;
}

export interface SecureStreamHooks {
  /** True once the HAL is halted: no callback reaches firmware any more. */
  readonly halted: boolean;
  /** Highest version the platform offers (hal/moddable/capabilities.ts). */
  readonly maxVersion: '1.2' | '1.3';
  /** Measurements of one connection, for the log: heap, handshake CPU time, session bytes. */
  measured(fields: Record<string, LogValue>): void;
}

/** Where a stream's outcome goes (default: the options' own callbacks). */
export type SecureStreamListener = Pick<SecureStreamOptions, 'onConnect' | 'onData' | 'onError'>;

/**
 * Keeps the TCP socket object reachable until the current socket callback has
 * returned. The Linux socket (modules/network/socket/lin/modSocket.c) releases
 * its object in `close()` (xsForget) but touches it again when the callback that
 * is running returns (socketDownUseCount); if a garbage collection ran in
 * between, mcsim crashed with "xsGetHostDestructor: not a host object" (seen on
 * a refused connection, closed from inside the connect callback).
 */
function holdUntilNextTurn(object: object | undefined): void {
  if (object) Timer.set(nothing.bind(object), 0);
}

function nothing(): void {}

/** The trusted roots for `serverName`: the configured CA names (comma-separated) plus the AWS roots for AWS. */
function trustedRoots(ca: string, serverName: string): ArrayBuffer | undefined {
  const names = ca.split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  const parts: ArrayBuffer[] = [];
  for (const name of names) {
    const bytes = readCredential(name);
    if (!bytes) return undefined;
    parts.push(bytes);
  }
  if (AWS_SERVER_NAME.test(serverName)) {
    for (const name of AWS_ROOTS) {
      const bytes = readCredential(name);
      if (bytes) parts.push(bytes);
    }
  }
  if (parts.length === 1) return parts[0];
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const all = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    all.set(new Uint8Array(part), at);
    at += part.byteLength;
  }
  return all.buffer as ArrayBuffer;
}

export function openSecureStream(options: SecureStreamOptions, hooks: SecureStreamHooks, listener: SecureStreamListener = options): SecureStream {
  return new TlsStream(options, hooks, listener);
}

class TlsStream implements SecureStream {
  stage: TlsStage = 'resolve';
  closed = false;
  established = false;
  socket: TcpSocket | undefined;
  engine: Engine | undefined;
  /** Plaintext not yet handed to the engine; the head is consumed from `headOffset`. */
  readonly pending: Uint8Array[] = [];
  headOffset = 0;
  /** The socket's free space right after connect: when write() reports it again, everything left. */
  socketCapacity = 0;
  handshakeMs = 0;
  heapBase = 0;
  deadline: Timer | undefined;

  constructor(readonly options: SecureStreamOptions, readonly hooks: SecureStreamHooks, readonly listener: SecureStreamListener) {
    this.deadline = Timer.set(this.timedOut.bind(this), Math.max(1, options.timeoutMs));
    const host = options.host;
    if (IPV4.test(host)) {
      // Defer so that no callback runs inside openSecure (HAL contract).
      Timer.set(this.connect.bind(this, host), 0);
    } else {
      Net.resolve(host, this.resolved.bind(this));
    }
  }

  timedOut(): void {
    this.deadline = undefined;
    this.fail({ timedOut: true });
  }

  resolved(_name: string, address?: string): void {
    if (this.closed) return;
    if (address) this.connect(address);
    else this.fail({ stage: 'resolve' });
  }

  shutdown(): void {
    this.closed = true;
    if (this.deadline) Timer.clear(this.deadline);
    this.deadline = undefined;
    this.pending.length = 0;
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      s.callback = nothing;
      holdUntilNextTurn(s as unknown as object);
      s.close();
    }
    this.engine?.close();
    this.engine = undefined;
  }

  fail(facts: Partial<TlsFailureFacts>): void {
    if (this.closed) return;
    const { host, port, serverName, alpn } = this.options;
    const engineFailure: EngineFailure | undefined = this.engine?.failure();
    // An alert the engine wrote (bad certificate, no_application_protocol) goes out before the close.
    if (engineFailure) this.sendCiphertext();
    const error: LinkError = classifyTlsFailure({
      stage: this.established ? 'open' : this.stage,
      host,
      port,
      serverName,
      alpn,
      engine: engineFailure,
      ...facts,
    });
    this.shutdown();
    if (!this.hooks.halted) this.listener.onError(error);
  }

  /** Moves ciphertext from the engine to the socket while the socket has room. */
  sendCiphertext(): void {
    for (;;) {
      const socket = this.socket;
      const engine = this.engine;
      if (!socket || !engine || !(engine.pending > 0)) return;
      const room = socket.write();
      if (!(room > 0)) return;
      const chunk = engine.take(room);
      if (!chunk) return;
      socket.write(chunk);
    }
  }

  /** Hands queued plaintext to the engine while its output is not backed up, then sends. */
  flush(): void {
    const pending = this.pending;
    while (this.established && this.engine && pending.length) {
      const head = pending[0];
      const used = this.engine.write(head.buffer as ArrayBuffer, head.byteOffset + this.headOffset);
      if (used < 0) {
        this.fail({});
        return;
      }
      this.headOffset += used;
      if (this.headOffset >= head.length) {
        pending.shift();
        this.headOffset = 0;
      }
      this.sendCiphertext();
      if (used === 0) break;
    }
    this.sendCiphertext();
  }

  readPlaintext(): void {
    while (this.engine && !this.closed) {
      const result = this.engine.read();
      if (result === 0) return;
      if (result === -1) {
        this.fail({});
        return;
      }
      const bytes = new Uint8Array(result);
      if (!this.hooks.halted) this.listener.onData(bytes);
    }
  }

  connected(): void {
    const { host, port } = this.options;
    const current = this.engine as Engine;
    this.established = true;
    this.stage = 'open';
    if (this.deadline) Timer.clear(this.deadline);
    this.deadline = undefined;
    const [version, resumed, selected, ciphersuite, sessionOffered, sessionBytes, keyType] = current.info() ?? [TLS_1_2, false, undefined, 'unknown', false, 0, 'unknown'];
    const versionName = version === TLS_1_3 ? 'TLSv1.3' : 'TLSv1.2';
    const fields: Record<string, LogValue> = { host, port, version: versionName, ciphersuite, keyType, sessionOffered, resumed, sessionBytes, handshakeMs: this.handshakeMs };
    const counted = heap();
    if (counted) {
      fields.heapHandshakePeak = counted[1] - this.heapBase;
      fields.heapSteady = counted[0] - this.heapBase;
    }
    this.hooks.measured(fields);
    const info: SecureConnectInfo = { alpn: selected, resumed, version: versionName };
    if (!this.hooks.halted) this.listener.onConnect(info);
  }

  /** Runs the handshake as far as the bytes allow, then application data. */
  step(): void {
    if (this.closed || !this.engine) return;
    if (!this.established) {
      const started = Time.ticks;
      const status = this.engine.handshake();
      this.handshakeMs += (Time.ticks - started) >>> 0;
      this.sendCiphertext();
      if (status === HANDSHAKE_FAILED) {
        this.fail({});
        return;
      }
      if (status !== HANDSHAKE_DONE) return;
      this.connected();
      if (this.closed) return;
    }
    this.readPlaintext();
    if (!this.closed) this.flush();
  }

  startTls(): void {
    const { serverName, port, alpn, credentials } = this.options;
    this.stage = 'tls';
    const ca = trustedRoots(credentials.ca, serverName);
    const certificate = readCredential(credentials.certificate);
    const key = readCredential(credentials.key);
    if (!ca || !certificate || !key) {
      const missing = [!ca && credentials.ca, !certificate && credentials.certificate, !key && credentials.key].filter(Boolean).join(', ');
      this.fail({ engine: [1, 0, 0, -1, '', `credential ${missing} missing — rebuild with them`] });
      return;
    }
    const wanted = this.options.maxVersion === '1.3' && this.hooks.maxVersion === '1.3' ? TLS_1_3 : TLS_1_2;
    const before = heap();
    resetHeapPeak();
    this.heapBase = before ? before[0] : 0;
    const engine = new Engine(ca, certificate, key, serverName, port, alpn.join(','), wanted, this.options.resume !== false);
    this.engine = engine;
    new Uint8Array(key).fill(0); // the engine holds its own parsed copy
    if (engine.failure()) {
      this.fail({});
      return;
    }
    this.step();
  }

  onSocket(message: number): void {
    const socket = this.socket;
    if (this.closed || !socket) return;
    try {
      switch (message) {
        case MSG_CONNECTED:
          this.socketCapacity = socket.write();
          this.startTls();
          return;
        case MSG_READABLE: {
          const bytes = socket.read(ArrayBuffer);
          if (bytes && bytes.byteLength && this.engine) {
            this.engine.feed(bytes);
            this.step();
          }
          return;
        }
        case MSG_WRITABLE:
          if (this.established) this.flush();
          else this.sendCiphertext();
          return;
        default:
          this.fail({ socketMessage: message === SOCKET_DISCONNECTED ? SOCKET_DISCONNECTED : SOCKET_ERROR });
          return;
      }
    } catch (error) {
      this.fail({ thrown: { name: (error as Error)?.name, message: (error as Error)?.message }, socketMessage: SOCKET_ERROR });
    }
  }

  connect(address: string): void {
    if (this.closed) return;
    this.stage = 'tcp';
    let socket: TcpSocket;
    try {
      socket = new Socket({ host: address, port: this.options.port }) as unknown as TcpSocket;
    } catch (error) {
      this.fail({ thrown: { name: (error as Error)?.name, message: (error as Error)?.message } });
      return;
    }
    this.socket = socket;
    socket.callback = this.onSocket.bind(this);
  }

  write(bytes: Uint8Array): void {
    if (this.closed) throw new Error('write after close');
    if (bytes.length === 0) return;
    this.pending.push(bytes.slice());
    if (this.established) this.flush();
  }

  close(): void {
    if (!this.closed) this.shutdown();
  }

  end(onDone: () => void): void {
    // Queued plaintext, then close_notify, then wait until the socket has sent it all (bounded).
    Timer.set(this.ending.bind(this, new Ending(onDone)), 0);
  }

  /** One poll of a graceful `end`. */
  ending(state: Ending): void {
    const engine = this.engine;
    const socket = this.socket;
    if (!this.closed && this.established && engine && socket) {
      this.flush();
      if (!this.pending.length && !state.notified) {
        state.notified = true;
        engine.closeNotify();
        this.sendCiphertext();
      }
      const drained = state.notified && engine.pending === 0 && socket.write() >= this.socketCapacity;
      if (!drained && state.waited < END_WAIT_MS) {
        state.waited += END_POLL_MS;
        Timer.set(this.ending.bind(this, state), END_POLL_MS);
        return;
      }
    }
    if (!this.closed) this.shutdown();
    state.onDone();
  }
}

/** A graceful `end` in progress. */
class Ending {
  waited = 0;
  notified = false;
  constructor(readonly onDone: () => void) {}
}
