/**
 * The local endpoint records how each MQTT connection ended (stats.closes,
 * `client.closed` events): clean after DISCONNECT, with or without TLS
 * close_notify; unclean when the socket just closes (and then a Last Will goes
 * out), after a keepalive timeout, or on takeover.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalEndpoint, type EndpointEventFields, type LocalEndpoint } from '../../endpoint/endpoint';
import { generateDevPki, type Pki } from '../../../tools/provision/pki';
import { manualClock, MqttTestClient, until } from './support';

let pki: Pki;
let endpoint: LocalEndpoint;
const clock = manualClock();
const closed: EndpointEventFields[] = [];

before(async () => {
  pki = await generateDevPki({ devices: 1 });
  endpoint = await createLocalEndpoint({
    pki,
    now: clock.now,
    sweepIntervalMs: 0,
    onEvent: (event, fields) => {
      if (event === 'client.closed') closed.push(fields);
    },
  });
});

after(async () => {
  await endpoint.close();
});

async function connected(clientId: string, will = false): Promise<MqttTestClient> {
  clock.advance(1001);
  const c = await MqttTestClient.open(endpoint, pki);
  c.send({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60,
    ...(will ? { will: { topic: `dt/fieldlink/${clientId}/gone`, payload: Buffer.from('gone'), qos: 0, retain: false } } : {}),
  });
  assert.equal((await c.next('connack'))?.cmd, 'connack');
  return c;
}

async function closeOf(clientId: string): Promise<EndpointEventFields> {
  await until(() => closed.some((f) => f.clientId === clientId), `client.closed for ${clientId}`);
  return closed.find((f) => f.clientId === clientId)!;
}

test('DISCONNECT then TLS close_notify is a clean close with close_notify', async () => {
  const before = { ...endpoint.stats.closes };
  const c = await connected('clean-notify');
  c.send({ cmd: 'disconnect' });
  c.socket.end(); // Node sends close_notify, then FIN
  assert.deepEqual(await closeOf('clean-notify'), { clientId: 'clean-notify', clean: true, reason: 'disconnect', closeNotify: true, will: false });
  assert.equal(endpoint.stats.closes.clean, before.clean + 1);
  assert.equal(endpoint.stats.closes.closeNotify, before.closeNotify + 1);
});

test('DISCONNECT then a bare TCP close is clean but without close_notify', async () => {
  const c = await connected('clean-bare');
  const bytesIn = endpoint.stats.bytesIn;
  c.send({ cmd: 'disconnect' });
  await until(() => endpoint.stats.bytesIn >= bytesIn + 2, 'the DISCONNECT at the endpoint');
  c.socket.destroy(); // no close_notify
  const fields = await closeOf('clean-bare');
  assert.equal(fields.clean, true);
  assert.equal(fields.closeNotify, false);
});

test('a socket closed without DISCONNECT is unclean, and its Last Will is counted', async () => {
  const before = { ...endpoint.stats.closes };
  const c = await connected('unclean-will', true);
  c.socket.end(); // close_notify but no DISCONNECT
  assert.deepEqual(await closeOf('unclean-will'), { clientId: 'unclean-will', clean: false, reason: 'socket-closed', closeNotify: true, will: true });
  assert.equal(endpoint.stats.closes.unclean, before.unclean + 1);
  assert.equal(endpoint.stats.closes.wills, before.wills + 1);
});

test('a keepalive timeout and a takeover are unclean closes that say why', async () => {
  await connected('silent');
  clock.advance(60 * 1000 * 1.5 + 1);
  endpoint.sweep();
  assert.equal((await closeOf('silent')).reason, 'keepalive');

  const first = await connected('twin');
  await connected('twin');
  assert.ok(await first.waitClosed());
  assert.equal((await closeOf('twin')).reason, 'takeover');
});
