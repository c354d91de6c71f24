/**
 * The MQTT client inside XS against a real mosquitto (Debian package) with
 * `require_certificate true` on its TLS listener.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import { probe } from '../../apps/mqtt-probe';
import { devPki, type World } from '../../net/world';
import { startMosquitto, type MosquittoBroker } from '../../brokers/mosquitto';
import { openSecureSocket } from '../../net/secure';
import type { OpenSecureSocket, SecureSocketEvents } from '../../net/streams';
import type { App } from '../../../hal/types';
import { devPkiTextFiles, writeDevPki, type Pki } from '../../../tools/provision/pki';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const app = { module: 'test-sim/apps/mqtt-probe.ts', exportName: 'probe', fn: probe as App };
let broker: MosquittoBroker;
let pki: Pki;
let pkiDir: string;

before(async () => {
  pki = await devPki();
  // The CLI test names files: a private copy, so a parallel test remaking the dev PKI cannot swap them.
  pkiDir = mkdtempSync(join(tmpdir(), 'fieldlink-mosq-pki-'));
  await writeDevPki(pki, pkiDir);
  broker = await startMosquitto({ tls: { ca: pki.rootCa, chain: pki.endpoint.chain, key: pki.endpoint.key } });
});
after(async () => {
  await broker?.stop();
  rmSync(pkiDir, { recursive: true, force: true });
});

function mosquittoWorld(): Promise<World> {
  return Promise.resolve({
    endpointName: pki.endpointName,
    resolve: (host, port) => (host === pki.endpointName && port === 8883 ? { host: '127.0.0.1', port: broker.tlsPort } : undefined),
    credentials: devPkiTextFiles(pki),
    deviceConfig: { endpoint: pki.endpointName, port: 8883, thing: `mosq-${Math.floor(Math.random() * 1e9)}` },
    realSockets: true,
    close: async () => {},
  });
}

interface ProbeState { state: string; sent: number; acked: number; inflight: number; received: string[]; sessions: boolean[] }

test('connect, QoS 0 and 1 publish, subscribe and receive, in XS over TLS to mosquitto', async () => {
  const { summary } = await runSimulation({
    engine: 'xs', app, seed: 6, world: mosquittoWorld,
    scenario: parseScenario({ duration: '2m', config: { count: 10, everyMs: 2000 } }, 'mosquitto-basic'),
  });
  const p = (summary.firmware as { engine: string; app: ProbeState });
  assert.equal(p.engine, 'xs');
  assert.equal(p.app.state, 'Online');
  assert.equal(p.app.acked, 5);
  assert.deepEqual([...p.app.received].sort(), Array.from({ length: 10 }, (_, i) => `${i % 2}:${i}`).sort());
});

test('after a network reset the device reconnects to its kept session (session present) and loses nothing', async () => {
  const sockets: { close(): void; events: SecureSocketEvents }[] = [];
  const wrapped: OpenSecureSocket = (options, events) => {
    const socket = openSecureSocket(options, events);
    sockets.push({ close: () => { socket.close(); events.onError({ category: 'tcp', message: 'connection reset (injected)' }); }, events });
    return socket;
  };
  const { summary } = await runSimulation({
    engine: 'xs', app, seed: 7, world: mosquittoWorld, openSecureSocket: wrapped,
    scenario: parseScenario({ duration: '5m', config: { count: 20, burst: 10, everyMs: 60_000, qos: 1 } }, 'mosquitto-reset'),
    beforeRun: (scheduler) => {
      scheduler.at(10_000.5, () => sockets.at(-1)!.close());
    },
  });
  const p = (summary.firmware as { app: ProbeState }).app;
  assert.deepEqual(p.sessions.slice(0, 2), [false, true], 'the second CONNACK reported the kept session');
  assert.equal(p.sent, 20);
  assert.equal(p.inflight, 0);
  const got = new Set(p.received.map((r) => r.split(':')[1]));
  assert.equal(got.size, 20, 'every message came back through the kept subscription');
});

test('npm run sim -- --endpoint points the simulated device at any broker (here mosquitto)', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['tools/run.mjs', 'test-sim/cli/main.ts',
    '--endpoint', `127.0.0.1:${broker.tlsPort}`, '--server-name', pki.endpointName,
    '--ca', join(pkiDir, 'root-ca.pem'), '--cert', join(pkiDir, 'device.pem'), '--key', join(pkiDir, 'device.key'),
    '--duration', '20m', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(summary.tls_handshakes >= 1);
  assert.ok(summary.firmware.app.floor >= 1, 'a telemetry batch was acknowledged by mosquitto and left the queue');
  assert.equal(summary.samples_lost, null, 'an external broker\'s side is not visible to the simulator');
});
