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
  /** Wraps every callback into firmware (the HAL drops them once halted). */
  guard(callback: () => void): void;
  /** Highest version the platform offers (hal/moddable/capabilities.ts). */
  maxVersion: '1.2' | '1.3';
  /** Measurements of one connection, for the log: heap, handshake CPU time, session bytes. */
  measured(fields: Record<string, LogValue>): void;
}

/**
 * Keeps the TCP socket object reachable until the current socket callback has
 * returned. The Linux socket (modules/network/socket/lin/modSocket.c) releases
 * its object in `close()` (xsForget) but touches it again when the callback that
 * is running returns (socketDownUseCount); if a garbage collection ran in
 * between, mcsim crashed with "xsGetHostDestructor: not a host object" (seen on
 * a refused connection, closed from inside the connect callback).
 */
function holdUntilNextTurn(object: object | undefined): void {
  if (object) Timer.set(() => object, 0);
}

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

export function openSecureStream(options: SecureStreamOptions, hooks: SecureStreamHooks): SecureStream {
  const { host, port, serverName, alpn, credentials, timeoutMs } = options;
  let stage: TlsStage = 'resolve';
  let closed = false;
  let established = false;
  let socket: TcpSocket | undefined;
  let engine: Engine | undefined;
  /** Plaintext not yet handed to the engine; the head is consumed from `headOffset`. */
  const pending: Uint8Array[] = [];
  let headOffset = 0;
  /** The socket's free space right after connect: when write() reports it again, everything left. */
  let socketCapacity = 0;
  let handshakeMs = 0;
  let heapBase = 0;
  let deadline: Timer | undefined = Timer.set(() => {
    deadline = undefined;
    fail({ timedOut: true });
  }, Math.max(1, timeoutMs));

  function shutdown(): void {
    closed = true;
    if (deadline) Timer.clear(deadline);
    deadline = undefined;
    pending.length = 0;
    const s = socket;
    socket = undefined;
    if (s) {
      s.callback = () => {};
      holdUntilNextTurn(s as unknown as object);
      s.close();
    }
    engine?.close();
    engine = undefined;
  }

  function fail(facts: Partial<TlsFailureFacts>): void {
    if (closed) return;
    const engineFailure: EngineFailure | undefined = engine?.failure();
    // An alert the engine wrote (bad certificate, no_application_protocol) goes out before the close.
    if (engineFailure) sendCiphertext();
    const error: LinkError = classifyTlsFailure({
      stage: established ? 'open' : stage,
      host,
      port,
      serverName,
      alpn,
      engine: engineFailure,
      ...facts,
    });
    shutdown();
    hooks.guard(() => options.onError(error));
  }

  /** Moves ciphertext from the engine to the socket while the socket has room. */
  function sendCiphertext(): void {
    while (socket && engine && engine.pending > 0) {
      const room = socket.write();
      if (!(room > 0)) return;
      const chunk = engine.take(room);
      if (!chunk) return;
      socket.write(chunk);
    }
  }

  /** Hands queued plaintext to the engine while its output is not backed up, then sends. */
  function flush(): void {
    while (established && engine && pending.length) {
      const head = pending[0];
      const used = engine.write(head.buffer as ArrayBuffer, head.byteOffset + headOffset);
      if (used < 0) {
        fail({});
        return;
      }
      headOffset += used;
      if (headOffset >= head.length) {
        pending.shift();
        headOffset = 0;
      }
      sendCiphertext();
      if (used === 0) break;
    }
    sendCiphertext();
  }

  function readPlaintext(): void {
    while (engine && !closed) {
      const result = engine.read();
      if (result === 0) return;
      if (result === -1) {
        fail({});
        return;
      }
      const bytes = new Uint8Array(result);
      hooks.guard(() => options.onData(bytes));
    }
  }

  function connected(): void {
    const current = engine as Engine;
    established = true;
    stage = 'open';
    if (deadline) Timer.clear(deadline);
    deadline = undefined;
    const [version, resumed, selected, ciphersuite, sessionOffered, sessionBytes, keyType] = current.info() ?? [TLS_1_2, false, undefined, 'unknown', false, 0, 'unknown'];
    const versionName = version === TLS_1_3 ? 'TLSv1.3' : 'TLSv1.2';
    const fields: Record<string, LogValue> = { host, port, version: versionName, ciphersuite, keyType, sessionOffered, resumed, sessionBytes, handshakeMs };
    const counted = heap();
    if (counted) {
      fields.heapHandshakePeak = counted[1] - heapBase;
      fields.heapSteady = counted[0] - heapBase;
    }
    hooks.measured(fields);
    const info: SecureConnectInfo = { alpn: selected, resumed, version: versionName };
    hooks.guard(() => options.onConnect(info));
  }

  /** Runs the handshake as far as the bytes allow, then application data. */
  function step(): void {
    if (closed || !engine) return;
    if (!established) {
      const started = Time.ticks;
      const status = engine.handshake();
      handshakeMs += (Time.ticks - started) >>> 0;
      sendCiphertext();
      if (status === HANDSHAKE_FAILED) {
        fail({});
        return;
      }
      if (status !== HANDSHAKE_DONE) return;
      connected();
      if (closed) return;
    }
    readPlaintext();
    if (!closed) flush();
  }

  function startTls(): void {
    stage = 'tls';
    const ca = trustedRoots(credentials.ca, serverName);
    const certificate = readCredential(credentials.certificate);
    const key = readCredential(credentials.key);
    if (!ca || !certificate || !key) {
      const missing = [!ca && credentials.ca, !certificate && credentials.certificate, !key && credentials.key].filter(Boolean).join(', ');
      fail({ engine: [1, 0, 0, -1, '', `credential ${missing} missing — rebuild with them`] });
      return;
    }
    const wanted = options.maxVersion === '1.3' && hooks.maxVersion === '1.3' ? TLS_1_3 : TLS_1_2;
    const before = heap();
    resetHeapPeak();
    heapBase = before ? before[0] : 0;
    engine = new Engine(ca, certificate, key, serverName, port, alpn.join(','), wanted, options.resume !== false);
    new Uint8Array(key).fill(0); // the engine holds its own parsed copy
    if (engine.failure()) {
      fail({});
      return;
    }
    step();
  }

  function onSocket(message: number): void {
    if (closed || !socket) return;
    try {
      switch (message) {
        case MSG_CONNECTED:
          socketCapacity = socket.write();
          startTls();
          return;
        case MSG_READABLE: {
          const bytes = socket.read(ArrayBuffer);
          if (bytes && bytes.byteLength && engine) {
            engine.feed(bytes);
            step();
          }
          return;
        }
        case MSG_WRITABLE:
          if (established) flush();
          else sendCiphertext();
          return;
        default:
          fail({ socketMessage: message === SOCKET_DISCONNECTED ? SOCKET_DISCONNECTED : SOCKET_ERROR });
          return;
      }
    } catch (error) {
      fail({ thrown: { name: (error as Error)?.name, message: (error as Error)?.message }, socketMessage: SOCKET_ERROR });
    }
  }

  function connect(address: string): void {
    if (closed) return;
    stage = 'tcp';
    try {
      socket = new Socket({ host: address, port }) as unknown as TcpSocket;
    } catch (error) {
      fail({ thrown: { name: (error as Error)?.name, message: (error as Error)?.message } });
      return;
    }
    socket.callback = onSocket;
  }

  if (IPV4.test(host)) {
    // Defer so that no callback runs inside openSecure (HAL contract).
    Timer.set(() => connect(host), 0);
  } else {
    Net.resolve(host, (_name, address) => {
      if (closed) return;
      if (address) connect(address);
      else fail({ stage: 'resolve' });
    });
  }

  return {
    write(bytes) {
      if (closed) throw new Error('write after close');
      if (bytes.length === 0) return;
      pending.push(bytes.slice());
      if (established) flush();
    },
    close() {
      if (!closed) shutdown();
    },
    end(onDone) {
      // Queued plaintext, then close_notify, then wait until the socket has sent it all (bounded).
      let waited = 0;
      let notified = false;
      const wait = (): void => {
        if (!closed && established && engine && socket) {
          flush();
          if (!pending.length && !notified) {
            notified = true;
            engine.closeNotify();
            sendCiphertext();
          }
          const drained = notified && engine.pending === 0 && socket.write() >= socketCapacity;
          if (!drained && waited < END_WAIT_MS) {
            waited += END_POLL_MS;
            Timer.set(wait, END_POLL_MS);
            return;
          }
        }
        if (!closed) shutdown();
        onDone();
      };
      Timer.set(wait, 0);
    },
  };
}
