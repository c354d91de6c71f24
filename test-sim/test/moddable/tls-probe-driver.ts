/**
 * The test side of the TLS probe (test-sim/apps/moddable/tls-probe.ts): writes
 * the fixture PKI as the probe's DER resources, builds the probe for mcsim,
 * and drives it over its control connection, one command at a time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { AWS_MQTT_ALPN, pemToDer } from '../../../tools/provision/pki';
import type { FixturePki } from '../net/impostors';
import { buildForMcsim, Mcsim, ROOT } from './mcsim-harness';

/** Resource names in the probe build. */
export const RSA_DEVICE = Object.freeze({ ca: 'ca.der', certificate: 'device.der', key: 'device.key.der' });
export const EC_DEVICE = Object.freeze({ ca: 'ca.der', certificate: 'device-ec.der', key: 'device-ec.key.der' });

/** Writes the fixture's root and devices as DER into `dir` (FIELDLINK_CREDENTIALS for the build). */
export function writeProbeCredentials(pki: FixturePki, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'ca.der'), pemToDer(pki.rootCa));
  writeFileSync(join(dir, 'device.der'), pemToDer(pki.devices[0].cert));
  writeFileSync(join(dir, 'device.key.der'), pemToDer(pki.devices[0].key), { mode: 0o600 });
  writeFileSync(join(dir, 'device-ec.der'), pemToDer(pki.ecDevice.cert));
  writeFileSync(join(dir, 'device-ec.key.der'), pemToDer(pki.ecDevice.key), { mode: 0o600 });
}

export interface OpenResult {
  connected?: { alpn: string | null; resumed: boolean; version: string | null };
  connack?: number;
  ended?: boolean;
  error?: { category: string; reason: string | null; message: string };
}

export interface Hello {
  hello: string;
  session: number;
}

/**
 * The control server the probe connects to at every boot. `next*` calls wait
 * for the probe's next line; commands are sent one at a time.
 */
export class ProbeControl {
  private server!: net.Server;
  private socket: net.Socket | undefined;
  private lines: string[] = [];
  private buffered = '';
  private waiters: Array<() => void> = [];
  port = 0;

  async listen(): Promise<void> {
    this.server = net.createServer((socket) => {
      this.socket = socket;
      this.buffered = '';
      socket.on('data', (chunk) => {
        this.buffered += chunk.toString('utf8');
        const parts = this.buffered.split('\n');
        this.buffered = parts.pop() ?? '';
        this.lines.push(...parts.filter((p) => p.length > 0));
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** The probe's next line, or throws after `timeoutMs` (with what mcsim printed). */
  async next<T>(timeoutMs: number, sim: Mcsim): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline || !sim.running) throw new Error(`no answer from the probe in ${timeoutMs} ms; device said:\n${sim.trace().slice(-4000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return JSON.parse(this.lines.shift() as string) as T;
  }

  send(command: Record<string, unknown>): void {
    this.socket?.write(`${JSON.stringify(command)}\n`);
  }

  async open(sim: Mcsim, command: Record<string, unknown>): Promise<OpenResult> {
    this.send({ op: 'open', alpn: [AWS_MQTT_ALPN], ...command });
    return this.next<OpenResult>(30_000, sim);
  }

  close(): Promise<void> {
    this.socket?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Writes the PKI's credentials, builds the probe into build/moddable-test/`name`
 * with a fresh control port, starts it in mcsim and waits for its first hello.
 */
export async function launchProbe(name: string, pki: FixturePki): Promise<{ control: ProbeControl; sim: Mcsim; hello: Hello }> {
  const credentials = join(ROOT, 'build', 'moddable-test', name, 'credentials');
  writeProbeCredentials(pki, credentials);
  const control = new ProbeControl();
  await control.listen();
  const artifact = buildForMcsim({ manifest: 'test-sim/apps/moddable/tls-probe.json', name, appName: 'tls-probe', credentials, config: { controlPort: control.port } });
  const sim = new Mcsim(artifact);
  const hello = await control.next<Hello>(60_000, sim);
  return { control, sim, hello };
}
