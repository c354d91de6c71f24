/**
 * The firmware on the Moddable build, in mcsim, against the local endpoint,
 * over the device's Mbed TLS: telemetry delivered with an RSA-2048 device key
 * and with an ECDSA P-256 device key, duty-cycled (deep sleep between uploads,
 * emulated by mcsim), and every connect after the first resumed from the
 * session the HAL kept in its retained area.
 *
 * Skips with one line without $MODDABLE, xvfb or $FIELDLINK_MBEDTLS
 * (mcsim-harness.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalEndpoint, type LocalEndpoint } from '../../endpoint/endpoint';
import { AWS_MQTT_ALPN, pemToDer, type DeviceCredentials } from '../../../tools/provision/pki';
import { makeFixturePki, type FixturePki } from '../net/impostors';
import { buildForMcsim, Mcsim, ROOT, skipReason, type DeviceEvent } from './mcsim-harness';

const skip = skipReason();
const NAME = 'tls-firmware';

interface Publish {
  clientId: string;
  topic: string;
  payload: string;
}

let pki: FixturePki;
let endpoint: LocalEndpoint;
const publishes: Publish[] = [];
const resumedAtServer: boolean[] = [];

before(async () => {
  if (skip) return;
  pki = await makeFixturePki();
  endpoint = await createLocalEndpoint({
    pki,
    sweepIntervalMs: 0,
    onEvent: (event, fields) => {
      if (event === 'handshake.ok') resumedAtServer.push(fields.resumed === true);
    },
  });
  endpoint.broker.on('publish', (packet, client) => {
    if (client) publishes.push({ clientId: client.id, topic: packet.topic, payload: String(packet.payload) });
  });
});

after(async () => {
  await endpoint?.close();
});

function writeCredentials(dir: string, device: DeviceCredentials): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'ca.der'), pemToDer(pki.rootCa));
  writeFileSync(join(dir, 'device.der'), pemToDer(device.cert));
  writeFileSync(join(dir, 'device.key.der'), pemToDer(device.key), { mode: 0o600 });
}

/**
 * Builds manifests/simulator.json duty-cycled, with `image`'s credentials as
 * resources and, if given, `store`'s in the simulated device's credential store
 * (hal/moddable/store-layout.ts), and runs it until `uploads` arrived from the
 * device the connection used.
 */
async function runFirmware(image: DeviceCredentials, uploads: number, store?: DeviceCredentials): Promise<{ events: DeviceEvent[]; trace: string; serverResumed: boolean[] }> {
  const device = store ?? image;
  const credentials = join(ROOT, 'build', 'moddable-test', NAME, `image-${image.thing}`);
  writeCredentials(credentials, image);
  const deviceDir = join(ROOT, 'build', 'moddable-test', NAME, `device-${device.thing}`);
  if (store) writeCredentials(join(deviceDir, 'nvs'), store);
  const artifact = buildForMcsim({
    manifest: 'manifests/simulator.json',
    name: NAME,
    appName: 'fieldlink',
    credentials,
    config: {
      endpoint: '127.0.0.1',
      port: endpoint.port,
      serverName: pki.endpointName,
      alpn: AWS_MQTT_ALPN,
      thing: device.thing,
      powerMode: 'duty',
      sampleIntervalMs: 8000,
      uploadIntervalMs: 8000,
      ...(store ? { deviceDir } : {}),
    },
  });
  const sim = new Mcsim(artifact);
  const handshakesBefore = resumedAtServer.length;
  try {
    const from = publishes.length;
    await sim.waitFor(() => publishes.slice(from).filter((p) => p.clientId === device.thing).length >= uploads, 120_000);
    return { events: sim.events(), trace: sim.trace(), serverResumed: resumedAtServer.slice(handshakesBefore) };
  } finally {
    sim.stop();
  }
}

function checkRun(device: DeviceCredentials, run: { events: DeviceEvent[]; trace: string; serverResumed: boolean[] }, uploads: number): void {
  const mine = publishes.filter((p) => p.clientId === device.thing);
  assert.ok(mine.length >= uploads, `expected ${uploads} uploads from ${device.thing}; device said:\n${run.trace.slice(-6000)}`);
  for (const p of mine) {
    assert.equal(p.topic, `dt/fieldlink/${device.thing}/telemetry`);
    const body = JSON.parse(p.payload) as { thing: string; samples: unknown[] };
    assert.equal(body.thing, device.thing);
    assert.ok(body.samples.length >= 1);
  }
  const connects = run.events.filter((e) => e.event === 'tls.connected').map((e) => e.fields as Record<string, unknown>);
  assert.ok(connects.length >= uploads, run.trace.slice(-4000));
  assert.ok(connects.every((c) => c.protocol === 'TLSv1.2' && c.alpn === AWS_MQTT_ALPN), JSON.stringify(connects));
  assert.equal(connects[0].resumed, false, 'the first connect after power-on is a full handshake');
  assert.ok(connects.slice(1).every((c) => c.resumed === true), `every later wake resumes: ${JSON.stringify(connects.map((c) => c.resumed))}`);
  // The endpoint agrees (Node's isSessionReused on its side of each handshake).
  assert.deepEqual(run.serverResumed.slice(0, connects.length), connects.map((c) => c.resumed));
  assert.ok(run.events.filter((e) => e.event === 'hal.boot' && e.fields?.reason === 'deep-sleep').length >= uploads - 1, 'duty-cycled: woken from (emulated) deep sleep');
  assert.ok(!run.events.some((e) => e.event === 'tls.error'), run.trace.slice(-4000));
}

test('duty-cycled firmware with an RSA-2048 device key delivers telemetry; every wake after the first resumes', { skip, timeout: 1_200_000 }, async () => {
  const device = pki.devices[0];
  checkRun(device, await runFirmware(device, 4), 4);
});

test('the same with an ECDSA P-256 device key, taken from the credential store over the image\'s RSA one', { skip, timeout: 1_200_000 }, async () => {
  const run = await runFirmware(pki.devices[0], 3, pki.ecDevice);
  checkRun(pki.ecDevice, run, 3);
  const keys = run.events.filter((e) => e.event === 'tls.measured').map((e) => e.fields?.keyType);
  assert.ok(keys.length >= 3 && keys.every((k) => k === 'ec-p256'), JSON.stringify(keys));
});
