/**
 * The real thing: build manifests/simulator.json with the Moddable SDK's
 * mcconfig (through npm run build:sim's tool), run it headless in mcsim, and see
 * the device reach the local AWS-IoT-like endpoint over TLS 1.2 with SNI, ALPN
 * x-amzn-mqtt-ca and a client certificate, and publish telemetry.
 *
 * Needs $MODDABLE (a Moddable SDK with its Linux tools built) and, without a
 * display, xvfb-run; skips with a message otherwise. Takes about 20 s with a
 * warm build directory, about 90 s cold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLocalEndpoint, type EndpointEventFields } from '../../endpoint/endpoint';
import { AWS_MQTT_ALPN, generateDevPki } from '../../../tools/provision/pki';

const ROOT = resolve(import.meta.dirname, '../../..');
const MODDABLE = process.env.MODDABLE;
const HEADLESS = !process.env.DISPLAY;
const hasXvfb = spawnSync('sh', ['-c', 'command -v xvfb-run && command -v stdbuf'], { encoding: 'utf8' }).status === 0;

function skipReason(): string | false {
  if (!MODDABLE) return 'MODDABLE is not set: build the Moddable SDK tools (documentation/Moddable SDK - Getting Started.md) and export MODDABLE to run this test';
  if (process.platform !== 'linux') return 'runs the Linux simulator (mcsim, -p lin) only';
  if (HEADLESS && !hasXvfb) return 'no display and no xvfb-run/stdbuf: apt-get install xvfb xauth';
  return false;
}

interface Publish {
  clientId: string;
  topic: string;
  qos: number;
  payload: string;
}

test('the mcconfig build runs in mcsim and publishes telemetry over TLS 1.2 with SNI, ALPN and a client certificate', { skip: skipReason(), timeout: 600_000 }, async () => {
  const pkiDir = mkdtempSync(join(tmpdir(), 'fieldlink-mcsim-pki-'));
  const deviceDir = mkdtempSync(join(tmpdir(), 'fieldlink-mcsim-device-'));
  const pki = await generateDevPki({ out: pkiDir });
  const handshakes: EndpointEventFields[] = [];
  const failures: EndpointEventFields[] = [];
  const endpoint = await createLocalEndpoint({
    pki,
    onEvent: (event, fields) => {
      if (event === 'handshake.ok') handshakes.push(fields);
      if (event === 'handshake.failed') failures.push(fields);
    },
  });
  const publishes: Publish[] = [];
  endpoint.broker.on('publish', (packet, client) => {
    if (client) publishes.push({ clientId: client.id, topic: packet.topic, qos: packet.qos, payload: String(packet.payload) });
  });
  let sim: ReturnType<typeof spawn> | undefined;
  try {
    const build = spawnSync(process.execPath, [
      '--import', 'tsx', join(ROOT, 'tools/moddable/build.ts'), 'sim',
      '--credentials', pkiDir, '--device', deviceDir,
      'endpoint=127.0.0.1', `port=${endpoint.port}`, `serverName=${pki.endpointName}`, `alpn=${AWS_MQTT_ALPN}`,
      'sampleIntervalMs=2000', 'uploadIntervalMs=4000',
    ], { cwd: ROOT, encoding: 'utf8', env: process.env, maxBuffer: 64 * 1024 * 1024 });
    const buildLog = `${build.stdout}${build.stderr}`;
    assert.equal(build.status, 0, buildLog.slice(-4000));
    assert.doesNotMatch(buildLog, /typescript compile failure|error TS\d+|### error/i);
    const artifact = /^built (.+)$/m.exec(build.stdout)?.[1];
    assert.ok(artifact, build.stdout);

    const mcsim = join(MODDABLE as string, 'build/bin/lin/release/mcsim');
    const [command, args] = HEADLESS ? ['xvfb-run', ['-a', 'stdbuf', '-oL', mcsim, artifact]] : ['stdbuf', ['-oL', mcsim, artifact]];
    sim = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buffered = '';
    sim.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
    });
    const events = () => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; fields?: Record<string, unknown> });

    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && publishes.length < 2 && sim.exitCode === null) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const trace = lines.filter((l) => !l.startsWith('instruments')).join('\n');
    assert.ok(publishes.length >= 2, `expected two publishes; device said:\n${trace}\nendpoint handshake failures: ${JSON.stringify(failures)}`);

    // The endpoint only completes a handshake with SNI = its name, ALPN x-amzn-mqtt-ca and a client certificate from the PKI.
    assert.ok(handshakes.length >= 1);
    assert.equal(handshakes[0].protocol, 'TLSv1.2');
    assert.equal(handshakes[0].alpn, AWS_MQTT_ALPN);
    assert.deepEqual(failures, []);

    const thing = pki.devices[0].thing;
    for (const p of publishes) {
      assert.equal(p.clientId, thing);
      assert.equal(p.topic, `dt/fieldlink/${thing}/telemetry`);
      assert.equal(p.qos, 1);
      const body = JSON.parse(p.payload) as { thing: string; samples: unknown[] };
      assert.equal(body.thing, thing);
      assert.ok(body.samples.length >= 1);
    }

    const seen = events();
    const connected = seen.find((e) => e.event === 'tls.connected');
    assert.ok(connected, trace);
    assert.equal(connected.fields?.serverName, pki.endpointName);
    assert.equal(connected.fields?.alpnOffered, AWS_MQTT_ALPN);
    assert.ok(seen.some((e) => e.event === 'hal.boot' && e.fields?.platform === 'simulator' && e.fields?.flash === 'host-file'), trace);
    const store = seen.find((e) => e.event === 'hal.credential-store');
    assert.equal(store?.fields?.store, `host ${deviceDir}/nvs`, trace);
    assert.match(String(store?.fields?.entries), /^ca\.der,device\.der,device\.key\.der\b/);
    assert.ok(seen.some((e) => e.event === 'memory.peaks' && e.fields?.phase === 'handshake' && Number(e.fields?.chunkBytes) > 0), trace);
    assert.ok(existsSync(join(deviceDir, 'flash-storage.bin')), 'the emulated flash is a file on the host');
    assert.ok(seen.some((e) => e.event === 'mqtt.connected'), trace);
    assert.ok(!seen.some((e) => e.event === 'tls.error'), trace);
  } finally {
    if (sim?.pid && sim.exitCode === null) {
      try {
        process.kill(-sim.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await endpoint.close();
    rmSync(pkiDir, { recursive: true, force: true });
    rmSync(deviceDir, { recursive: true, force: true });
  }
});
