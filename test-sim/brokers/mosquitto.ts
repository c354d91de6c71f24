/**
 * A real Eclipse Mosquitto for tests: a plain listener and a TLS listener that
 * requires a client certificate, both on loopback, from a generated config in a
 * temporary directory. Mosquitto does no SNI or ALPN checks, so it stands in
 * for AWS's port 8883 (no ALPN), not for 443.
 *
 * Needs the Debian package: `apt-get install -y mosquitto` (binary in /usr/sbin).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

export interface MosquittoTls {
  /** Trusted issuer(s) of client certificates, PEM. */
  ca: string;
  /** Server certificate chain (leaf first), PEM. */
  chain: string;
  /** Server private key, PEM. */
  key: string;
}

export interface MosquittoOptions {
  tls: MosquittoTls;
  /** Path to the binary; default: `mosquitto` on PATH or in /usr/sbin, /usr/local/sbin. */
  binary?: string;
  /** How long to wait for both listeners to accept, default 10 s. */
  startTimeoutMs?: number;
}

export interface MosquittoBroker {
  /** Plain MQTT on 127.0.0.1. */
  port: number;
  /** MQTT over TLS 1.2 with `require_certificate true` on 127.0.0.1. */
  tlsPort: number;
  stop(): Promise<void>;
}

export const MOSQUITTO_MISSING = 'mosquitto not found: apt-get install -y mosquitto';

export function findMosquitto(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/opt/homebrew/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'mosquitto');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoBroker> {
  const binary = options.binary ?? findMosquitto();
  if (!binary) throw new Error(MOSQUITTO_MISSING);
  const dir = await mkdtemp(join(tmpdir(), 'fieldlink-mosquitto-'));
  try {
    return await launch(binary, dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(binary: string, dir: string, options: MosquittoOptions): Promise<MosquittoBroker> {
  await writeFile(join(dir, 'ca.pem'), options.tls.ca);
  await writeFile(join(dir, 'server-chain.pem'), options.tls.chain);
  await writeFile(join(dir, 'server.key'), options.tls.key, { mode: 0o600 });

  // Mosquitto cannot bind port 0, so take two free ports and retry if one is snatched.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [port, tlsPort] = await freePorts(2);
    const config = [
      'per_listener_settings false',
      'allow_anonymous true',
      'persistence false',
      // Run as root (CI) would otherwise switch to user "mosquitto", who cannot read the temp dir.
      `user ${userInfo().username}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      `listener ${port} 127.0.0.1`,
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server-chain.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'require_certificate true',
      'tls_version tlsv1.2',
      '',
    ].join('\n');
    const configPath = join(dir, 'mosquitto.conf');
    await writeFile(configPath, config);

    const child = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    try {
      await waitForListeners(child, [port, tlsPort], options.startTimeoutMs ?? 10_000, () => stderr);
    } catch (error) {
      await kill(child);
      lastError = error as Error;
      if (/Address already in use/i.test(stderr)) continue;
      break;
    }
    let stopped: Promise<void> | undefined;
    return {
      port,
      tlsPort,
      stop() {
        stopped ??= kill(child).then(() => rm(dir, { recursive: true, force: true }));
        return stopped;
      },
    };
  }
  throw lastError ?? new Error('mosquitto did not start');
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      return new Promise<net.Server>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitForListeners(child: ChildProcess, ports: number[], timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  child.once('error', (error) => {
    exited = error.message;
  });
  for (const port of ports) {
    for (;;) {
      if (exited) throw new Error(`mosquitto ${exited}: ${log().trim().split('\n').slice(-3).join(' | ')}`);
      if (await accepts(port)) break;
      if (Date.now() > deadline) throw new Error(`mosquitto did not accept on port ${port} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
