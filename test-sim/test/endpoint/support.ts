/**
 * Test helpers for talking to the local endpoint: a minimal MQTT-over-TLS
 * client built from `tls.connect` and mqtt-packet, and a virtual clock.
 */
import tls from 'node:tls';
import { generate, parser, type Packet } from 'mqtt-packet';
import type { LocalEndpoint } from '../../endpoint/endpoint';
import { AWS_MQTT_ALPN } from '../../../tools/provision/defaults';
import type { Pki } from '../../../tools/provision/pki';
import type { SecureSocketOptions } from '../../net/secure';

/** A clock the test moves by hand; pass `clock.now` as the endpoint's `now`. */
export function manualClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

export interface TestClientOptions {
  cert?: string;
  key?: string;
  serverName?: string;
  alpn?: string[];
  maxVersion?: tls.SecureVersion;
}

/** Raw MQTT over TLS: send packets, await the ones that come back, see the close. */
export class MqttTestClient {
  readonly received: Packet[] = [];
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: tls.TLSSocket) {
    const p = parser();
    p.on('packet', (packet) => {
      this.received.push(packet);
      this.wake();
    });
    socket.on('data', (chunk: Buffer) => p.parse(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(endpoint: LocalEndpoint, pki: Pki, options: TestClientOptions = {}): Promise<MqttTestClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: endpoint.host,
        port: endpoint.port,
        servername: options.serverName ?? endpoint.serverName,
        ALPNProtocols: options.alpn ?? [AWS_MQTT_ALPN],
        ca: pki.rootCa,
        cert: options.cert ?? pki.devices[0].cert,
        key: options.key ?? pki.devices[0].key,
        minVersion: 'TLSv1.2',
        maxVersion: options.maxVersion ?? 'TLSv1.2',
      });
      socket.once('secureConnect', () => resolve(new MqttTestClient(socket)));
      socket.once('error', reject);
    });
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet));
  }

  /** Sends CONNECT and returns the CONNACK, or `undefined` if the connection closed instead. */
  async connect(clientId: string, keepalive = 60): Promise<Packet | undefined> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive });
    return this.next('connack');
  }

  /** The next packet of `cmd` (from those not yet taken), or `undefined` on close or timeout. */
  async next(cmd: Packet['cmd'], timeoutMs = 2000): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((p) => p.cmd === cmd);
      if (index >= 0) return this.received.splice(index, 1)[0];
      if (this.closed || Date.now() >= deadline) return undefined;
      await this.sleep(deadline - Date.now());
    }
  }

  /** Resolves true once the server has closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.sleep(deadline - Date.now());
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Polls `ready` until it holds; throws naming `what` if it still does not after `timeoutMs` of wall time.
 * Tests wait for state, never for a fixed time: the timeout only bounds a test that would otherwise hang.
 */
export async function until(ready: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The device's side of a TLS session to `endpoint` with the PKI's first device, as the firmware opens it. */
export function deviceSocketOptions(pki: Pki, endpoint: { host: string; port: number }, overrides: Partial<SecureSocketOptions> = {}): SecureSocketOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    serverName: pki.endpointName,
    alpn: [AWS_MQTT_ALPN],
    ca: pki.rootCa,
    cert: pki.devices[0].cert,
    key: pki.devices[0].key,
    timeoutMs: 3000,
    ...overrides,
  };
}
