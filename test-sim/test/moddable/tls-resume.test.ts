/**
 * TLS session resumption on the Moddable build, in mcsim: the device's Mbed
 * TLS keeps its session (ticket or id) only in the platform's retained area
 * (hal/moddable/native/tls-store.c, a static buffer that plays the RTC memory
 * in mcsim), so an emulated deep sleep resumes and an emptied area means a
 * full handshake: nothing else in RAM carries a session across a wake.
 *
 * Run through the TLS probe against the local endpoint (Node's TLS: tickets,
 * RFC 5077 and RFC 8446). Skips with one line without $MODDABLE, xvfb or
 * $FIELDLINK_MBEDTLS (mcsim-harness.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalEndpoint, type LocalEndpoint } from '../../endpoint/endpoint';
import { coalescingRelay, makeFixturePki, type FixturePki } from '../net/impostors';
import { Mcsim, skipReason } from './mcsim-harness';
import { EC_DEVICE, launchProbe, RSA_DEVICE, type Hello, type OpenResult, type ProbeControl } from './tls-probe-driver';

const skip = skipReason();
const NAME = 'tls-resume';

let pki: FixturePki;
let control: ProbeControl;
let sim: Mcsim;
let endpoint: LocalEndpoint;

let opened = 0;
/** Opens a stream and sends a CONNECT; each with its own client id (the endpoint allows one CONNECT per second per id, as AWS). */
function open(credentials: object = RSA_DEVICE, extra: Record<string, unknown> = {}): Promise<OpenResult> {
  opened++;
  return control.open(sim, { host: '127.0.0.1', port: endpoint.port, serverName: pki.endpointName, credentials, clientId: `probe-${opened}`, ...extra });
}

async function sleep(clearSession: boolean): Promise<Hello> {
  control.send({ op: 'sleep', ms: 300, clearSession });
  assert.deepEqual(await control.next(10_000, sim), { sleeping: true });
  return control.next<Hello>(30_000, sim);
}

function connected(result: OpenResult, what: string): NonNullable<OpenResult['connected']> {
  assert.equal(result.error, undefined, `${what}: ${result.error?.message}`);
  assert.equal(result.connack, 0, what);
  return result.connected as NonNullable<OpenResult['connected']>;
}

before(async () => {
  if (skip) return;
  pki = await makeFixturePki();
  endpoint = await createLocalEndpoint({ pki, sweepIntervalMs: 0 });
  const probe = await launchProbe(NAME, pki);
  ({ control, sim } = probe);
  assert.deepEqual(probe.hello, { hello: 'power-on', session: 0 });
}, { timeout: 1_200_000 });

after(async () => {
  sim?.stop();
  await endpoint?.close();
  await control?.close();
});

test('the first handshake is full, the second resumes, and the session survives an emulated deep sleep', { skip }, async () => {
  assert.equal(connected(await open(), 'first').resumed, false);
  assert.equal(connected(await open(), 'second').resumed, true);
  const hello = await sleep(false);
  assert.equal(hello.hello, 'deep-sleep');
  assert.ok(hello.session > 0, 'the retained area holds the session after the wake');
  assert.equal(connected(await open(), 'after the wake').resumed, true);
});

test('with the retained bytes emptied before a wake the next handshake is full: no other cache survives', { skip }, async () => {
  const hello = await sleep(true);
  assert.deepEqual(hello, { hello: 'deep-sleep', session: 0 });
  assert.equal(connected(await open(), 'after the emptied wake').resumed, false);
  assert.equal(connected(await open(), 'then').resumed, true);
});

test('a server that no longer knows the session costs one full handshake and nothing else', { skip }, async () => {
  const port = endpoint.port;
  await endpoint.close();
  endpoint = await createLocalEndpoint({ pki, port, sweepIntervalMs: 0 }); // new ticket keys, empty session cache
  const refused = connected(await open(), 'offered a session the server cannot resume');
  assert.equal(refused.resumed, false);
  assert.equal(connected(await open(), 'next').resumed, true);
});

test('a session belongs to one device certificate: the ECDSA device does not offer the RSA device\'s', { skip }, async () => {
  assert.equal(connected(await open(EC_DEVICE), 'EC first').resumed, false);
  assert.equal(connected(await open(EC_DEVICE), 'EC second').resumed, true);
});

test('TLS 1.3 when asked: a full handshake, then resumption with its ticket, also when tickets and data arrive in one segment', { skip }, async () => {
  // The relay delivers the server's NewSessionTickets and the CONNACK behind them in one write:
  // Mbed TLS consumes a ticket and answers WANT_READ with the CONNACK still unread (a stall before the fix).
  const relay = await coalescingRelay(endpoint);
  try {
    const first = connected(await open(RSA_DEVICE, { maxVersion: '1.3', port: relay.port }), 'TLS 1.3 first');
    assert.equal(first.version, 'TLSv1.3');
    assert.equal(first.alpn, 'x-amzn-mqtt-ca');
    assert.equal(first.resumed, false);
    const second = connected(await open(RSA_DEVICE, { maxVersion: '1.3', port: relay.port }), 'TLS 1.3 second');
    assert.equal(second.version, 'TLSv1.3');
    assert.equal(second.resumed, true);
  } finally {
    await relay.close();
  }
});

test('each connection reports its Mbed TLS heap: a resumed handshake peaks lower than a full one', { skip }, (t) => {
  const measured = sim.events().filter((e) => e.event === 'tls.measured').map((e) => e.fields as Record<string, number | boolean | string>);
  // The figures the README quotes (heap per connection in mcsim, Mbed TLS with tls-mbedtls-config.h).
  for (const m of measured) {
    t.diagnostic(`${m.version} ${m.keyType} ${m.resumed ? 'resumed' : 'full   '} ${m.ciphersuite}: handshake peak ${m.heapHandshakePeak} B, steady ${m.heapSteady} B, session ${m.sessionBytes} B, ${m.handshakeMs} ms CPU`);
  }
  const full = measured.filter((m) => m.resumed === false && m.ciphersuite !== undefined);
  const resumed = measured.filter((m) => m.resumed === true);
  assert.ok(full.length >= 3 && resumed.length >= 3, JSON.stringify(measured));
  for (const m of measured) {
    assert.ok(typeof m.heapHandshakePeak === 'number' && m.heapHandshakePeak > 16 * 1024, `the 16 KB input buffer alone: ${JSON.stringify(m)}`);
    assert.ok((m.heapSteady as number) < (m.heapHandshakePeak as number), JSON.stringify(m));
  }
  const peak = (list: typeof measured) => Math.max(...list.map((m) => m.heapHandshakePeak as number));
  assert.ok(peak(resumed) < peak(full), `resumed ${peak(resumed)} B, full ${peak(full)} B`);
  // As the HAL halts for deep sleep it logs Mbed TLS's peak since the last connection began: never below that handshake's.
  let last: Record<string, unknown> | undefined;
  let halts = 0;
  for (const e of sim.events()) {
    if (e.event === 'tls.measured') last = e.fields;
    if (e.event !== 'memory.peaks' || e.fields?.tlsHeapPeak === undefined || !last) continue;
    halts++;
    t.diagnostic(`Mbed TLS peak over the connection ${String(e.fields.tlsHeapPeak)} B (its handshake ${String(last.heapHandshakePeak)} B)`);
    assert.ok((e.fields.tlsHeapPeak as number) >= (last.heapHandshakePeak as number), JSON.stringify({ peaks: e.fields, measured: last }));
    last = undefined;
  }
  assert.equal(halts, 2, `the two deep sleeps after a connection (tests above) log memory.peaks with tlsHeapPeak: ${halts}`);
});
