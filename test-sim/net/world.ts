/**
 * The network a simulated device sees: which endpoint its host name reaches and
 * which credential files its names resolve to. Either the built-in local
 * AWS-IoT-like endpoint (TLS + aedes over the in-memory network, dev PKI made at
 * first use: deterministic), the fleets' model broker, or an external endpoint
 * given on the command line (real sockets: best effort, clock/real-io.ts).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { createLocalEndpoint, type LocalEndpoint } from '../endpoint/endpoint';
import { HostileBroker } from '../endpoint/hostile';
import { DEFAULT_DEV_PKI_DIR, devPkiTextFiles, ensureDevPki, type Pki } from '../../tools/provision/pki';
import { UsageError } from '../scenarios/scenario';
import type { Scheduler } from '../clock/scheduler';
import { ROOT } from '../engine/bundle';
import { ENERGY_PROFILES } from '../../firmware/power/policy';
import { MemoryNetwork, type PathMode } from './memory';
import { ModelBroker } from './model-broker';
import { createDeliveryRecord, type DeliveryRecord } from './deliveries';
import { classifySocketError, openSecureSocket } from './secure';
import type { OpenSecureSocket } from './streams';

/** The fault switch on the path to the broker (net/memory.ts modes). */
export interface FaultSwitch {
  readonly mode: PathMode;
  setMode(mode: PathMode): void;
  /** Reset every open connection. */
  reset(): void;
}

export interface World {
  /** The endpoint name the firmware should use. */
  endpointName: string;
  resolve(host: string, port: number): { host: string; port: number } | undefined;
  /**
   * The text of each credential file the firmware may name (`credentials.ca`,
   * `.certificate`, `.key`), by name. A snapshot taken when the world was made,
   * as a device's flashed resources are: files that change on disk later (another
   * process remaking the dev PKI) cannot change a running simulation.
   */
  credentials: Readonly<Record<string, string>>;
  /** Config the firmware needs to reach this world (merged under the scenario's config). */
  deviceConfig: Record<string, unknown>;
  endpoint?: LocalEndpoint;
  /** The fault switch on the path to the broker (the in-memory network's, or the model broker's), when there is one. */
  proxy?: FaultSwitch;
  /** The host TLS client for this world; default net/secure.ts over a TCP socket. */
  openSecureSocket?: OpenSecureSocket;
  /**
   * The device talks to real sockets (an external broker, mosquitto): virtual
   * time then follows the wall clock while replies are due (clock/real-io.ts),
   * and a run is not reproducible to the millisecond.
   */
  realSockets?: boolean;
  /** Telemetry the broker received, when this world can see it (not for an external broker). */
  deliveries?: DeliveryRecord;
  /** The local endpoint's rule-breaking tap (endpoint/hostile.ts), switched by scenario faults. */
  hostile?: HostileBroker;
  /** The in-process model broker, when this world runs one (fleets, the bench). */
  model?: ModelBroker;
  close(): Promise<void>;
}

/** The dev PKI in `.state/dev-pki`, made (or remade when it is about to expire) on first use. */
export function devPki(dir = join(ROOT, DEFAULT_DEV_PKI_DIR)): Promise<Pki> {
  return ensureDevPki(dir);
}

/** One-way latency of the local world's network: half the profile's broker round trip. */
export const LOCAL_LATENCY_MS = ENERGY_PROFILES.esp32.roundTripMs / 2;

/**
 * The local endpoint over the in-memory network (net/memory.ts), on the
 * simulator's virtual clock: no socket, no wall-clock timer.
 */
export async function localWorld(
  scheduler: Scheduler,
  options: { pkiDir?: string; latencyMs?: number; /** The endpoint resumes TLS sessions (default true). */ resumption?: boolean } = {},
): Promise<World> {
  const pki = await devPki(options.pkiDir);
  const hostile = new HostileBroker({ after: (ms, task) => scheduler.after(ms, task) });
  const endpoint = await createLocalEndpoint({ pki, listen: false, now: () => scheduler.now, sweepIntervalMs: 0, resumption: options.resumption, mqttTap: hostile });
  const latencyMs = options.latencyMs ?? LOCAL_LATENCY_MS;
  const network = new MemoryNetwork(scheduler, { latencyMs, accept: (socket) => endpoint.accept(socket) });
  const deliveries = createDeliveryRecord(() => scheduler.now);
  endpoint.broker.on('publish', (packet, client) => {
    if (client) deliveries.receive(packet.topic, packet.payload as Uint8Array);
  });
  // Keepalive deadlines follow virtual time: sweep every 15 virtual seconds.
  let sweeping = true;
  const sweep = () => {
    if (!sweeping) return;
    endpoint.sweep();
    scheduler.after(15_000, sweep);
  };
  scheduler.after(15_000, sweep);
  const open: OpenSecureSocket = (socketOptions, events) => {
    const socket = network.connect();
    if (socket instanceof Error) {
      // The refusal (a reset answering the SYN) comes back after one round trip.
      let waiting = true;
      const context = { stage: 'tcp' as const, host: socketOptions.host, port: socketOptions.port, serverName: socketOptions.serverName, alpn: socketOptions.alpn };
      scheduler.after(2 * latencyMs, () => { if (waiting) events.onError(classifySocketError(socket, context)); });
      return { write() {}, close() { waiting = false; } };
    }
    return openSecureSocket({ ...socketOptions, socket, timeoutMs: 0 }, events);
  };
  return {
    endpointName: pki.endpointName,
    resolve: (host, port) => (host === pki.endpointName && port === 443 ? { host, port } : undefined),
    credentials: devPkiTextFiles(pki),
    deviceConfig: { endpoint: pki.endpointName, port: 443, thing: pki.devices[0].thing },
    endpoint,
    hostile,
    proxy: network,
    openSecureSocket: open,
    deliveries,
    close: async () => {
      sweeping = false;
      network.close();
      await endpoint.close();
    },
  };
}

export interface ExternalEndpoint {
  /** HOST:PORT */
  address: string;
  serverName?: string;
  ca: string;
  cert: string;
  key: string;
  thing?: string;
}

/**
 * A real broker elsewhere (`--endpoint HOST:PORT --ca --cert --key`): the files
 * are read once and the firmware names them `ca.pem`, `device.pem`, `device.key`.
 */
export function externalWorld(options: ExternalEndpoint): World {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(options.address);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw new UsageError(`--endpoint must be HOST:PORT, got "${options.address}"`);
  }
  const host = match[1].replace(/^\[|\]$/g, '');
  const port = Number(match[2]);
  const names: Record<'ca' | 'cert' | 'key', string> = { ca: 'ca.pem', cert: 'device.pem', key: 'device.key' };
  const credentials: Record<string, string> = {};
  for (const what of ['ca', 'cert', 'key'] as const) {
    const path = resolvePath(options[what]);
    if (!existsSync(path)) throw new UsageError(`--${what} ${options[what]}: no such file`);
    const text = readFileSync(path, 'utf8');
    if (!/-----BEGIN [A-Z ]+-----/.test(text)) throw new UsageError(`--${what} ${options[what]} is not a PEM file`);
    credentials[names[what]] = text;
  }
  let thing = options.thing;
  if (!thing) {
    const cn = /CN=([^,\n]+)/.exec(new X509Certificate(readFileSync(resolvePath(options.cert))).subject);
    thing = cn?.[1] ?? basename(dirname(resolvePath(options.cert)));
  }
  return {
    endpointName: host,
    resolve: (h, p) => (h === host && p === port ? { host, port } : undefined),
    credentials,
    deviceConfig: {
      endpoint: host,
      port,
      serverName: options.serverName ?? host,
      thing,
      credentials: { ca: names.ca, certificate: names.cert, key: names.key },
    },
    realSockets: true,
    close: async () => {},
  };
}

/** Fleets: the model broker in-process (see model-broker.ts), with the dev PKI for the credential names. */
export async function modelWorld(options: { now?: () => number } = {}): Promise<World> {
  const pki = await devPki();
  const deliveries = createDeliveryRecord(options.now);
  const broker = new ModelBroker((topic, payload) => deliveries.receive(topic, payload));
  return {
    endpointName: pki.endpointName,
    resolve: (host, port) => (host === pki.endpointName && port === 443 ? { host: '127.0.0.1', port: broker.port } : undefined),
    credentials: devPkiTextFiles(pki),
    deviceConfig: { endpoint: pki.endpointName, port: 443, thing: pki.devices[0].thing },
    proxy: broker,
    model: broker,
    openSecureSocket: broker.open,
    deliveries,
    close: () => broker.close(),
  };
}
