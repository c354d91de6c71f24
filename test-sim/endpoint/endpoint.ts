/**
 * A local stand-in for the AWS IoT Core data endpoint: TLS in front of an
 * aedes broker, on loopback, with AWS's handshake requirements and broker
 * limits.
 *
 *   raw TCP -> ClientHandshakeInspector (SNI, ALPN, client certificate; alerts)
 *           -> Node TLS server socket (TLS 1.2+, chain leaf + intermediate)
 *           -> MQTT inspector (QoS 2 dropped unacknowledged, keepalive activity)
 *           -> MQTT tap, optional (hostile.ts: a broker that breaks the rules on purpose)
 *           -> aedes (client id, connect rate, keepalive clamp, topic and payload limits in its hooks)
 *
 * The time source for rate limits and keepalive is injectable (`now`), because
 * the simulator runs on virtual time; certificate dates use the wall clock.
 */
import { constants, X509Certificate } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Aedes, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import type { Packet } from 'mqtt-packet';
import { AWS_MQTT_ALPN } from '../../tools/provision/defaults';
import { splitPemCertificates } from '../../tools/provision/pem';
import type { Pki, ServerCredentials } from '../../tools/provision/pki';
import { FilteredStream } from './filtered-stream';
import {
  AWS_LIMITS,
  clientIdViolation,
  effectiveKeepalive,
  LIMIT_VIOLATIONS,
  topicViolation,
  type BrokerLimits,
  type LimitViolation,
} from './limits';
import type { MqttTap } from './hostile';
import { MqttFramer, PacketDecoder } from './mqtt-frames';
import { peerChain } from '../net/secure';
import { ClientHandshakeInspector, verifyClientChain, type HandshakeRejection } from './tls-inspect';

/** The port `npm run endpoint` listens on unless told otherwise (the library defaults to an ephemeral one). */
export const DEFAULT_ENDPOINT_PORT = 8443;

/** A timer delay that never fires within a run (setTimeout's maximum). */
const NEVER_MS = 0x7fffffff;

export type HandshakeFailure = HandshakeRejection | 'version' | 'server-alpn' | 'aborted' | 'timeout' | 'tls';

export interface EndpointStats {
  /** `resumed` counts the `ok` handshakes that resumed a session (ticket or session id). */
  handshakes: { ok: number; resumed: number; failed: Partial<Record<HandshakeFailure, number>> };
  /** CONNECTs accepted (the broker registered the client and sent CONNACK). */
  connects: number;
  /** PUBLISH packets the broker accepted (client publishes and wills). */
  publishes: number;
  /** Connections closed because a newer one used the same client id. */
  takeovers: number;
  /** Connections closed after 1.5 x the effective keepalive of silence. */
  keepaliveTimeouts: number;
  /**
   * MQTT connections as they ended: `clean` after the client's DISCONNECT
   * (no Last Will), `unclean` otherwise (socket closed or reset, keepalive,
   * takeover); `closeNotify` counts the clean ones whose client also sent TLS
   * close_notify before closing; `wills` the unclean ones whose CONNECT carried
   * a Last Will, which the broker then published.
   */
  closes: { clean: number; unclean: number; closeNotify: number; wills: number };
  rejected: Record<LimitViolation, number>;
  /** Plaintext MQTT bytes read from clients (lets a simulator wait until what it sent has arrived). */
  bytesIn: number;
  /** Every accepted CONNECT's keepalive, as asked and as enforced (seconds). */
  keepalive: Array<{ clientId: string; requested: number; effective: number }>;
}

export interface SessionInfo {
  clientId: string;
  keepalive: { requested: number; effective: number };
  /** `now()` of the last packet received. */
  lastHeard: number;
}

export type EndpointEventFields = Record<string, string | number | boolean>;

export interface LocalEndpointOptions {
  /** Trust, server chain and endpoint name; tests make one with `generateDevPki`. */
  pki: Pki;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** SNI the handshake requires (default `pki.endpointName`); `false` accepts any or none. */
  serverName?: string | false;
  /** ALPN the client must offer (default `x-amzn-mqtt-ca`); `false` requires none. */
  requiredAlpn?: string | false;
  /**
   * Protocols the TLS server selects from. Default: the required one. `false`:
   * the server does no ALPN at all (selects nothing). A list without the
   * client's protocol makes Node's server answer no_application_protocol.
   */
  serverAlpn?: string[] | false;
  /** Server chain and key (default the PKI's endpoint); e.g. `pki.negative.expiredEndpoint`. */
  serverCredentials?: ServerCredentials;
  /** Issuers trusted for device certificates, PEM (default `pki.rootCa`). */
  clientCa?: string;
  /**
   * Resume sessions (default true): RFC 5077 tickets and session ids, as AWS IoT
   * does. `false` refuses both, so every handshake is a full one.
   */
  resumption?: boolean;
  /** Default TLSv1.2. */
  minVersion?: tls.SecureVersion;
  /** Default TLSv1.3, as AWS. */
  maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher string, e.g. `DEFAULT@SECLEVEL=0` to allow TLS 1.0/1.1 at all. */
  ciphers?: string;
  /**
   * Listen on TCP (default). `false`: no listener; connections arrive only
   * through `accept` (the simulator's in-memory network), and no timer of this
   * endpoint or its broker runs on the wall clock.
   */
  listen?: boolean;
  /** Milliseconds for rate limits and keepalive; default `performance.now`. */
  now?: () => number;
  /** Wall clock for certificate dates; default `new Date()`. */
  wallClock?: () => Date;
  limits?: Partial<BrokerLimits>;
  /** How often keepalive deadlines are checked on a real timer; 0: only by `sweep()`. Default 1000. */
  sweepIntervalMs?: number;
  /** Default 10 s; 0: none. Ignored (none) when `listen` is false. */
  handshakeTimeoutMs?: number;
  /** Sees every MQTT packet both ways between TLS and aedes and decides what the client gets (hostile.ts). */
  mqttTap?: MqttTap;
  /** Human-readable trace: rejections, connects, disconnects. Never key material. */
  onEvent?: (event: string, fields: EndpointEventFields) => void;
}

export interface LocalEndpoint {
  host: string;
  port: number;
  /** The SNI it requires (the PKI's endpoint name unless overridden). */
  serverName: string;
  /** The ALPN protocol it requires, if any. */
  alpn: string | undefined;
  stats: EndpointStats;
  broker: Aedes;
  /** Live MQTT sessions (CONNECT accepted). */
  sessions(): SessionInfo[];
  /** Apply keepalive deadlines at `now()`; call after advancing a virtual clock. */
  sweep(): void;
  /** Serve one connection given as a stream (an in-memory connection); TCP connections arrive by themselves. */
  accept(socket: Duplex): void;
  /** Client connections whose stream has not closed yet: 0 once the endpoint has finished every connection's side. */
  openConnections(): number;
  close(): Promise<void>;
}

interface Session {
  conn: FilteredStream;
  clientId?: string;
  keepalive?: { requested: number; effective: number };
  lastHeard: number;
  will?: boolean;
  /** The client sent DISCONNECT. */
  disconnected?: boolean;
  /** The client sent a TLS alert record after the handshake (TLS 1.2: its close_notify). */
  closeNotify?: () => boolean;
  /** Why the endpoint itself closed it, if it did. */
  closedBy?: 'keepalive' | 'takeover';
}

export async function createLocalEndpoint(options: LocalEndpointOptions): Promise<LocalEndpoint> {
  const { pki } = options;
  const host = options.host ?? '127.0.0.1';
  const serverName = options.serverName ?? pki.endpointName;
  const requiredAlpn = options.requiredAlpn ?? AWS_MQTT_ALPN;
  const serverAlpn = options.serverAlpn ?? (requiredAlpn === false ? false : [requiredAlpn]);
  const limits: BrokerLimits = { ...AWS_LIMITS, ...options.limits };
  const now = options.now ?? (() => performance.now());
  const listen = options.listen !== false;
  const resumption = options.resumption !== false;
  const handshakeTimeoutMs = listen ? options.handshakeTimeoutMs ?? 10_000 : 0;
  const wallClock = options.wallClock ?? (() => new Date());
  const emit = options.onEvent ?? (() => {});
  const credentials = options.serverCredentials ?? pki.endpoint;
  const clientCaPem = options.clientCa ?? pki.rootCa;
  const clientCas = splitPemCertificates(clientCaPem).map((pem) => new X509Certificate(pem));

  const stats: EndpointStats = {
    handshakes: { ok: 0, resumed: 0, failed: {} },
    connects: 0,
    publishes: 0,
    takeovers: 0,
    keepaliveTimeouts: 0,
    closes: { clean: 0, unclean: 0, closeNotify: 0, wills: 0 },
    bytesIn: 0,
    rejected: Object.fromEntries(LIMIT_VIOLATIONS.map((v) => [v, 0])) as Record<LimitViolation, number>,
    keepalive: [],
  };
  const handshakeFailed = (reason: HandshakeFailure, detail: string) => {
    stats.handshakes.failed[reason] = (stats.handshakes.failed[reason] ?? 0) + 1;
    emit('handshake.failed', { reason, detail });
  };
  const reject = (violation: LimitViolation, detail: string, clientId?: string) => {
    stats.rejected[violation]++;
    emit('limit.rejected', { violation, detail, clientId: clientId ?? '' });
  };

  const secureContext = tls.createSecureContext({
    cert: credentials.chain,
    key: credentials.key,
    ca: clientCaPem,
    minVersion: options.minVersion ?? 'TLSv1.2',
    maxVersion: options.maxVersion ?? 'TLSv1.3',
    ciphers: options.ciphers,
    // OpenSSL refuses to resume a session that verified a client certificate unless
    // the context has a session id context (it answers internal_error otherwise).
    sessionIdContext: 'fieldlink-local-endpoint',
    // One context for every connection, so its ticket keys open every ticket it issued.
    secureOptions: resumption ? undefined : constants.SSL_OP_NO_TICKET,
  });
  // Session-id resumption: a TLSSocket outside a tls.Server asks the `server` it is given for
  // sessions (newSession/resumeSession); with resumption refused nobody answers.
  const sessionIds = new Map<string, Buffer>();
  const sessionServer = new tls.Server({});
  if (resumption) {
    sessionServer.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      sessionIds.set(id.toString('hex'), data);
      done();
    });
    sessionServer.on('resumeSession', (id: Buffer, done: (error: Error | null, data: Buffer | null) => void) => {
      done(null, sessionIds.get(id.toString('hex')) ?? null);
    });
  }

  // ---- broker ---------------------------------------------------------------
  const sessions = new Map<FilteredStream, Session>();
  const lastConnectAt = new Map<string, number>();
  const broker = new Aedes({
    // Without a listener, no wall-clock timer may act on a client: CONNECT's arrival and
    // keepalive are judged on `now()` (sweep), and the $SYS heartbeat never fires.
    ...(listen ? {} : { connectTimeout: NEVER_MS, heartbeatInterval: Math.floor(NEVER_MS / 4) }), // aedes clears wills every 4 heartbeats
    preConnect(client: Client, packet: ConnectPacket, callback) {
      const session = sessions.get(client.conn as FilteredStream);
      const clientId = packet.clientId;
      const idProblem = clientIdViolation(clientId, limits);
      if (idProblem) {
        reject('client-id', idProblem, clientId.slice(0, 64));
        callback(new Error(idProblem), false); // AWS closes without CONNACK
        return;
      }
      const t = now();
      const last = lastConnectAt.get(clientId);
      if (last !== undefined && t - last < limits.connectIntervalMs) {
        reject('connect-rate', `second CONNECT within ${Math.round(t - last)} ms`, clientId);
        callback(new Error('CONNECT rate exceeded'), false);
        return;
      }
      lastConnectAt.set(clientId, t);
      const requested = packet.keepalive ?? 0;
      const effective = effectiveKeepalive(requested, limits);
      if (session) {
        session.clientId = clientId;
        session.keepalive = { requested, effective };
        session.lastHeard = t;
        session.will = packet.will !== undefined && packet.will !== null;
      }
      stats.keepalive.push({ clientId, requested, effective });
      // aedes would enforce the asked-for keepalive on a real timer; this endpoint
      // enforces the effective one on `now()` instead (see sweep()).
      packet.keepalive = 0;
      // aedes keeps connected clients by id and closes the older one on registration [MQTT-3.1.4-2].
      const older = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[clientId];
      if (older) {
        stats.takeovers++;
        emit('client.takeover', { clientId });
        for (const other of sessions.values()) if (other.clientId === clientId && other !== session) other.closedBy = 'takeover';
      }
      callback(null, true);
    },
    authorizePublish(client: Client | null, packet: PublishPacket, callback) {
      const topicProblem = topicViolation(packet.topic, limits);
      if (topicProblem) {
        reject(topicProblem.kind, topicProblem.detail, client?.id);
        callback(new Error(topicProblem.detail)); // aedes then closes the connection, as AWS does
        return;
      }
      const size = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
      if (size > limits.maxPayloadBytes) {
        reject('payload-size', `payload is ${size} bytes (max ${limits.maxPayloadBytes})`, client?.id);
        callback(new Error('payload too large'));
        return;
      }
      stats.publishes++;
      callback(null);
    },
    authorizeSubscribe(client: Client, subscription: Subscription, callback) {
      const problem = topicViolation(subscription.topic, limits);
      if (problem) {
        reject('filter', problem.detail, client.id);
        callback(null, null); // SUBACK return code 0x80 for this filter
        return;
      }
      callback(null, subscription);
    },
  });
  await broker.listen();
  broker.on('client', (client: Client) => {
    stats.connects++;
    emit('client.connected', { clientId: client.id });
  });
  broker.on('clientDisconnect', (client: Client) => emit('client.disconnected', { clientId: client.id }));
  broker.on('clientError', (client: Client, error: Error) => emit('client.error', { clientId: client.id, error: error.message }));

  /** Judges one MQTT packet before aedes sees it. */
  const judge = (session: Session, packet: Packet): 'pass' | 'drop' => {
    session.lastHeard = now();
    if (packet.cmd === 'disconnect') session.disconnected = true;
    if (packet.cmd === 'publish' && packet.qos === 2) {
      reject('qos2-publish', `QoS 2 PUBLISH to ${packet.topic} dropped without PUBREC`, session.clientId);
      return 'drop';
    }
    if (packet.cmd === 'subscribe' && packet.subscriptions.some((s) => s.qos === 2)) {
      reject('qos2-subscribe', 'SUBSCRIBE asking QoS 2 dropped without SUBACK', session.clientId);
      return 'drop';
    }
    return 'pass';
  };

  /** One `client.closed` per MQTT connection that sent CONNECT: clean (DISCONNECT) or not, and why. */
  const recordClose = (session: Session) => {
    if (session.clientId === undefined) return;
    const clean = session.disconnected === true;
    const closeNotify = session.closeNotify?.() ?? false;
    const reason = clean ? 'disconnect' : session.closedBy ?? 'socket-closed';
    if (clean) {
      stats.closes.clean++;
      if (closeNotify) stats.closes.closeNotify++;
    } else {
      stats.closes.unclean++;
      if (session.will) stats.closes.wills++;
    }
    emit('client.closed', { clientId: session.clientId, clean, reason, closeNotify, will: !clean && session.will === true });
  };

  const startMqtt = (secure: tls.TLSSocket, closeNotify: () => boolean) => {
    const framer = new MqttFramer();
    const decoder = new PacketDecoder();
    let session: Session;
    const tap = options.mqttTap?.attach((bytes) => {
      if (!secure.destroyed) secure.write(bytes);
    });
    const conn = new FilteredStream(secure, (chunk, sink) => {
      stats.bytesIn += chunk.length;
      try {
        for (const frame of framer.feed(chunk)) {
          const packet = decoder.decode(frame);
          tap?.fromClient(packet, frame);
          if (judge(session, packet) === 'pass') sink.pass(frame);
        }
      } catch (error) {
        emit('mqtt.malformed', { error: (error as Error).message });
        sink.reject();
      }
    }, tap && ((chunk) => tap.toClient(chunk)));
    session = { conn, lastHeard: now(), closeNotify };
    sessions.set(conn, session);
    conn.on('close', () => {
      tap?.closed();
      sessions.delete(conn);
      recordClose(session);
    });
    conn.on('error', () => {});
    broker.handle(conn);
  };

  // ---- TLS ------------------------------------------------------------------
  const sockets = new Set<Duplex>();
  /** One client connection: a TCP socket, or one end of an in-memory connection (test-sim/net/memory.ts). */
  const accept = (raw: Duplex) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    let verdict: HandshakeFailure | undefined;
    let established = false;
    const inspector = new ClientHandshakeInspector({ serverName, requiredAlpn, clientCas, wallClock });
    const records = new RecordWatcher();
    let alertAfterHandshake = false;
    const gate = new FilteredStream(raw, (chunk, sink) => {
      for (const type of records.feed(chunk)) if (established && type === ALERT_RECORD) alertAfterHandshake = true;
      const result = inspector.feed(chunk);
      if (result.kind === 'forward') {
        for (const bytes of result.bytes) sink.pass(bytes);
        return;
      }
      verdict = result.refusal.reason;
      handshakeFailed(result.refusal.reason, result.refusal.detail);
      sink.reject(result.alert);
    });
    gate.on('error', () => {});
    const secure = new tls.TLSSocket(gate, {
      isServer: true,
      secureContext,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: serverAlpn === false ? undefined : serverAlpn,
      handshakeTimeout: handshakeTimeoutMs,
      server: sessionServer,
    } as tls.TLSSocketOptions);
    secure.on('error', (error: NodeJS.ErrnoException) => {
      if (verdict !== undefined || established) return; // already counted, or not a handshake failure
      verdict = tlsFailure(error);
      handshakeFailed(verdict, error.code ?? error.message);
    });
    secure.once('secure', () => {
      established = true;
      // TLS 1.3 hides the client's certificate from the inspector, and a resumed session sends
      // none: check the session's chain here unless the inspector just checked it.
      const refusal = inspector.clientChainChecked && !secure.isSessionReused()
        ? undefined
        : verifyClientChain(peerChain(secure.getPeerCertificate(true)), clientCas, wallClock());
      if (refusal) {
        verdict = refusal.reason;
        handshakeFailed(refusal.reason, refusal.detail);
        secure.destroy();
        return;
      }
      stats.handshakes.ok++;
      if (secure.isSessionReused()) stats.handshakes.resumed++;
      emit('handshake.ok', { protocol: secure.getProtocol() ?? '', alpn: String(secure.alpnProtocol), resumed: secure.isSessionReused() });
      startMqtt(secure, () => alertAfterHandshake);
    });
  };

  const server = listen ? net.createServer(accept) : undefined;
  if (server) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  const port = server ? (server.address() as net.AddressInfo).port : 0;

  const sweep = () => {
    const t = now();
    for (const session of sessions.values()) {
      if (!session.keepalive) continue;
      const allowed = session.keepalive.effective * 1000 * limits.keepaliveGrace;
      if (t - session.lastHeard > allowed) {
        stats.keepaliveTimeouts++;
        emit('client.keepalive-timeout', { clientId: session.clientId ?? '', silentMs: Math.round(t - session.lastHeard) });
        session.closedBy = 'keepalive';
        sessions.delete(session.conn);
        session.conn.destroy();
      }
    }
  };
  const sweepIntervalMs = options.sweepIntervalMs ?? 1000;
  const sweeper = sweepIntervalMs > 0 ? setInterval(sweep, sweepIntervalMs) : undefined;
  sweeper?.unref();

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    serverName: serverName === false ? pki.endpointName : serverName,
    alpn: requiredAlpn === false ? undefined : requiredAlpn,
    stats,
    broker,
    sessions: () =>
      [...sessions.values()]
        .filter((s) => s.clientId !== undefined && s.keepalive !== undefined)
        .map((s) => ({ clientId: s.clientId!, keepalive: { ...s.keepalive! }, lastHeard: s.lastHeard })),
    sweep,
    accept,
    openConnections: () => sockets.size,
    close() {
      closing ??= (async () => {
        if (sweeper) clearInterval(sweeper);
        const stopped = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await stopped;
      })();
      return closing;
    },
  };
}

/** TLS record content type 21 (RFC 5246 6.2.1). In TLS 1.2 an alert record's type is visible on the wire. */
const ALERT_RECORD = 21;

/** The content types of the TLS records a client sends, as their headers pass by in any chunking. */
class RecordWatcher {
  private header: number[] = [];
  private remaining = 0;

  feed(chunk: Uint8Array): number[] {
    const types: number[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - i);
        this.remaining -= skip;
        i += skip;
        continue;
      }
      this.header.push(chunk[i++]);
      if (this.header.length === 5) {
        types.push(this.header[0]);
        this.remaining = (this.header[3] << 8) | this.header[4];
        this.header = [];
      }
    }
    return types;
  }
}

function tlsFailure(error: NodeJS.ErrnoException): HandshakeFailure {
  const code = error.code ?? '';
  if (code === 'ERR_SSL_NO_APPLICATION_PROTOCOL') return 'server-alpn';
  if (/VERSION|PROTOCOL/.test(code)) return 'version';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'aborted';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'no-client-cert';
  return 'tls';
}
