/**
 * `network.openSecure` over Moddable's `securesocket` (modules/crypt/
 * securesocket, TLS in JavaScript from modules/crypt/ssl).
 *
 * Options passed to SecureSocket (as examples/network/aws/mqtt-aws does):
 * `{ host, port, secure: { serverName, applicationLayerProtocolNegotiation,
 * protocolVersion: 0x0303, certificate, clientCertificates: [device],
 * clientKey } }` with the CA, the device certificate and the PKCS#8 key read
 * from DER resources named by `credentials`. Verification stays on (the
 * `verify` option is never passed), SNI is always `serverName`.
 *
 * The name is resolved first with `Net.resolve`, so a DNS failure is reported as
 * `dns` (the socket alone cannot tell it from a refused connection), then the
 * socket connects to the address. See tls-errors.ts for what else Moddable lets
 * us tell apart, and why `alpn` is never verified here.
 *
 * Writes are queued and flushed as the socket has room: SecureSocket throws
 * "can't write all data" beyond its free space, and the Linux socket has a
 * 1 KB transmit buffer.
 */
import Net from 'net';
import Resource from 'Resource';
import SecureSocket from 'securesocket';
import Timer from 'timer';
import type { LinkError, SecureStream, SecureStreamOptions } from '../types';
import { classifyTlsFailure, SOCKET_DISCONNECTED, SOCKET_ERROR, type TlsFailureFacts, type TlsStage } from './tls-errors';

/** Longest a graceful `end` waits for queued bytes to leave. */
const END_WAIT_MS = 200;

/** Largest plaintext handed to one TLS record write (ssl/session refuses more than 16384). */
const MAX_RECORD = 4096;

/** Socket callback messages of SecureSocket (securesocket.js: 1 handshake done, 2 readable, 3 writable). */
const MSG_CONNECTED = 1;
const MSG_READABLE = 2;
const MSG_WRITABLE = 3;

/**
 * What SecureSocket has at run time beyond its typings (typings/securesocket.d.ts
 * declares neither `callback`, nor `write()` without arguments, nor the session).
 */
interface SecureSocketRuntime {
  callback: (message: number, value?: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  /** Free space for application data (the socket's, minus 128 for TLS overhead). */
  write(): number;
  write(data: Uint8Array): void;
  close(): void;
}

/** The TLS session fields read for diagnosis (modules/crypt/ssl/session_original.js). */
interface SessionFields {
  alert?: { level: number; description: number };
  clientSessionID?: ArrayBuffer;
  serverSessionID?: ArrayBuffer;
}

interface SecureSocketInternals {
  ssl?: SessionFields;
  handshaking?: boolean;
  messageHandler(bytesAvailable: number): void;
}

const baseMessageHandler = (SecureSocket.prototype as unknown as SecureSocketInternals).messageHandler;

/**
 * SecureSocket swallows the exception that ends a handshake (its socket callback
 * catches everything and reports only `Socket.error`). Overriding
 * `messageHandler`, which it calls for every socket event, keeps that exception,
 * notes when TCP connected, and sees whether the session was resumed before the
 * session deletes its ids.
 */
class ObservedSecureSocket extends SecureSocket {
  tcpConnected = false;
  failure: { name?: string; message?: string } | undefined;
  alert: { level: number; description: number } | undefined;
  resumed = false;

  messageHandler(bytesAvailable: number): void {
    const self = this as unknown as SecureSocketInternals;
    this.tcpConnected = true;
    const session = self.ssl;
    if (self.handshaking && session?.clientSessionID && session.serverSessionID) {
      this.resumed = sameBytes(session.clientSessionID, session.serverSessionID);
    }
    try {
      baseMessageHandler.call(this, bytesAvailable);
    } catch (error) {
      const e = error as { name?: string; message?: string } | undefined;
      this.failure = { name: e?.name, message: e?.message };
      this.alert = session?.alert;
      throw error;
    }
    if (session?.alert) this.alert = session.alert;
  }
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
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

/**
 * No capturing group: XS 8.2.3 crashed mcsim in fx_RegExp_prototype_exec running
 * this preloaded (frozen) RegExp, with a capture, on an endpoint string read from
 * the credential store at run time.
 */
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export interface SecureStreamHooks {
  /** Wraps every callback into firmware (the HAL drops them once halted). */
  guard(callback: () => void): void;
}

export function openSecureStream(options: SecureStreamOptions, hooks: SecureStreamHooks): SecureStream {
  const { host, port, serverName, alpn, credentials, timeoutMs } = options;
  let stage: TlsStage = 'resolve';
  let closed = false;
  let connected = false;
  let socket: ObservedSecureSocket | undefined;
  const pending: Uint8Array[] = [];
  let deadline: Timer | undefined = Timer.set(() => {
    deadline = undefined;
    fail({ timedOut: true });
  }, Math.max(1, timeoutMs));

  function runtime(): SecureSocketRuntime {
    return socket as unknown as SecureSocketRuntime;
  }

  function shutdown(): void {
    closed = true;
    if (deadline) Timer.clear(deadline);
    deadline = undefined;
    pending.length = 0;
    const s = socket;
    socket = undefined;
    if (s) {
      (s as unknown as SecureSocketRuntime).callback = () => {};
      holdUntilNextTurn((s as unknown as { sock?: object }).sock);
      s.close();
    }
  }

  function fail(facts: Partial<TlsFailureFacts>): void {
    if (closed) return;
    const observed = socket;
    if (!connected && stage === 'tcp' && observed?.tcpConnected) stage = 'tls';
    const error: LinkError = classifyTlsFailure({
      stage: connected ? 'open' : stage,
      host,
      port,
      serverName,
      thrown: observed?.failure,
      alert: observed?.alert,
      ...facts,
    });
    shutdown();
    hooks.guard(() => options.onError(error));
  }

  function flush(): void {
    while (socket && pending.length) {
      const room = runtime().write();
      if (!(room > 0)) return;
      const head = pending[0];
      const size = Math.min(room, MAX_RECORD, head.length);
      runtime().write(size === head.length ? head : head.subarray(0, size));
      if (size === head.length) pending.shift();
      else pending[0] = head.subarray(size);
    }
  }

  function onSocket(message: number, _value?: number): void {
    if (closed || !socket) return;
    try {
      switch (message) {
        case MSG_CONNECTED: {
          const alert = socket.alert;
          if (alert) {
            // Moddable ends a handshake "successfully" after refusing the server's
            // version itself; it sent the alert, and the session is unusable.
            fail({ thrown: undefined, alert });
            return;
          }
          connected = true;
          stage = 'open';
          if (deadline) Timer.clear(deadline);
          deadline = undefined;
          const resumed = socket.resumed;
          // ALPN cannot be confirmed: Moddable's TLS never parses ServerHello
          // extensions (see tls-errors.ts). A server that requires it refuses the
          // handshake instead, so reaching here with ALPN offered means it was accepted.
          hooks.guard(() => options.onConnect({ alpn: undefined, resumed }));
          flush();
          return;
        }
        case MSG_READABLE: {
          const bytes = runtime().read(ArrayBuffer);
          if (bytes && bytes.byteLength) hooks.guard(() => options.onData(new Uint8Array(bytes)));
          return;
        }
        case MSG_WRITABLE:
          flush();
          return;
        default: {
          fail({ socketMessage: message === SOCKET_DISCONNECTED ? SOCKET_DISCONNECTED : SOCKET_ERROR });
          return;
        }
      }
    } catch (error) {
      fail({ thrown: { name: (error as Error)?.name, message: (error as Error)?.message }, socketMessage: SOCKET_ERROR });
    }
  }

  function connect(address: string): void {
    if (closed) return;
    stage = 'tcp';
    let secure: Record<string, unknown>;
    try {
      secure = {
        serverName,
        protocolVersion: 0x0303,
        certificate: new Resource(credentials.ca),
        clientCertificates: [new Resource(credentials.certificate)],
        clientKey: new Resource(credentials.key),
      };
    } catch {
      stage = 'tls';
      fail({
        thrown: { name: 'Error', message: `credential resource missing (${credentials.ca}, ${credentials.certificate}, ${credentials.key}) — rebuild with them` },
      });
      return;
    }
    if (alpn.length) secure.applicationLayerProtocolNegotiation = alpn.length === 1 ? alpn[0] : alpn.slice();
    try {
      socket = new ObservedSecureSocket({ host: address, port, secure });
    } catch (error) {
      fail({ thrown: { name: (error as Error)?.name, message: (error as Error)?.message } });
      return;
    }
    runtime().callback = onSocket;
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
      pending.push(bytes.slice());
      if (connected) flush();
    },
    close() {
      if (!closed) shutdown();
    },
    end(onDone) {
      // Moddable's SecureSocket sends no close_notify; what is queued goes first, bounded by END_WAIT_MS.
      let waited = 0;
      const wait = (): void => {
        if (!closed && pending.length && waited < END_WAIT_MS) {
          waited += 10;
          Timer.set(wait, 10);
          return;
        }
        if (!closed) shutdown();
        onDone();
      };
      Timer.set(wait, 0);
    },
  };
}
