import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalEndpoint, type LocalEndpoint } from '../../endpoint/endpoint';
import { generateDevPki, type Pki } from '../../../tools/provision/pki';
import { manualClock, MqttTestClient, until } from './support';

let pki: Pki;
let endpoint: LocalEndpoint;
const clock = manualClock();
const open: MqttTestClient[] = [];

before(async () => {
  pki = await generateDevPki({ devices: 1 });
  endpoint = await createLocalEndpoint({ pki, now: clock.now, sweepIntervalMs: 0 });
});

after(async () => {
  for (const c of open) c.close();
  await endpoint.close();
});

async function client(): Promise<MqttTestClient> {
  const c = await MqttTestClient.open(endpoint, pki);
  open.push(c);
  return c;
}

/** Connects with a fresh session; the clock first moves past the connect-rate window. */
async function connected(clientId: string, keepalive = 60): Promise<MqttTestClient> {
  clock.advance(1001);
  const c = await client();
  const connack = await c.connect(clientId, keepalive);
  assert.equal(connack?.cmd, 'connack');
  assert.equal((connack as { returnCode: number }).returnCode, 0);
  return c;
}

/** A subscriber on `#` that collects topics delivered to it. */
interface Watcher {
  client: MqttTestClient;
  topics: () => string[];
  /** Publishes `dt/<marker>` from a fresh client and waits until this watcher has it: whatever the broker delivered before has arrived too. Returns the topics before the marker. */
  settled: (marker: string) => Promise<string[]>;
}

async function watcher(clientId: string): Promise<Watcher> {
  const c = await connected(clientId);
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] });
  assert.ok(await c.next('suback'));
  const topics = () => c.received.filter((p) => p.cmd === 'publish').map((p) => (p as { topic: string }).topic);
  return {
    client: c,
    topics,
    async settled(marker) {
      const m = await connected(`${marker}-sender`);
      m.send({ cmd: 'publish', topic: `dt/${marker}`, payload: Buffer.from('m'), qos: 1, messageId: 1, dup: false, retain: false });
      assert.ok(await m.next('puback'));
      await until(() => topics().includes(`dt/${marker}`), `the marker dt/${marker} at the watcher`);
      return topics().filter((t) => t !== `dt/${marker}`);
    },
  };
}

test('a client id of 128 bytes connects; 129 bytes is closed without CONNACK', async () => {
  await connected('a'.repeat(128));
  const c = await client();
  assert.equal(await c.connect('b'.repeat(129)), undefined);
  assert.ok(c.closed);
  assert.equal(endpoint.stats.rejected['client-id'], 1);
});

test('a client id starting with $ is closed without CONNACK', async () => {
  const before = endpoint.stats.rejected['client-id'];
  const c = await client();
  assert.equal(await c.connect('$aws-thing'), undefined);
  assert.equal(endpoint.stats.rejected['client-id'], before + 1);
});

test('a topic with 8 slashes is not delivered and the publisher is disconnected; 7 slashes is', async () => {
  const w = await watcher('watch-depth');
  const pub = await connected('pub-depth');
  pub.send({ cmd: 'publish', topic: 'dt/a/b/c/d/e/f/g', payload: Buffer.from('7'), qos: 0, dup: false, retain: false });
  pub.send({ cmd: 'publish', topic: 'dt/a/b/c/d/e/f/g/h', payload: Buffer.from('8'), qos: 0, dup: false, retain: false });
  assert.ok(await pub.waitClosed());
  assert.deepEqual(await w.settled('marker-depth'), ['dt/a/b/c/d/e/f/g']);
  assert.equal(endpoint.stats.rejected['topic-depth'], 1);
});

test('a topic over 256 bytes is not delivered; 256 bytes is', async () => {
  const w = await watcher('watch-length');
  const pub = await connected('pub-length');
  const ok = `dt/${'x'.repeat(253)}`;
  const long = `dt/${'x'.repeat(254)}`;
  pub.send({ cmd: 'publish', topic: ok, payload: Buffer.from('ok'), qos: 1, messageId: 7, dup: false, retain: false });
  assert.ok(await pub.next('puback'));
  pub.send({ cmd: 'publish', topic: long, payload: Buffer.from('no'), qos: 1, messageId: 8, dup: false, retain: false });
  assert.ok(await pub.waitClosed());
  assert.equal(await pub.next('puback', 100), undefined);
  assert.deepEqual(await w.settled('marker-length'), [ok]);
  assert.equal(endpoint.stats.rejected['topic-length'], 1);
});

test('a payload over 128 KB is not delivered; exactly 128 KB is', async () => {
  const w = await watcher('watch-payload');
  const pub = await connected('pub-payload');
  pub.send({ cmd: 'publish', topic: 'dt/max', payload: Buffer.alloc(131072, 1), qos: 1, messageId: 1, dup: false, retain: false });
  assert.ok(await pub.next('puback'));
  pub.send({ cmd: 'publish', topic: 'dt/over', payload: Buffer.alloc(131073, 1), qos: 1, messageId: 2, dup: false, retain: false });
  assert.ok(await pub.waitClosed());
  assert.deepEqual(await w.settled('marker-payload'), ['dt/max']);
  assert.equal(endpoint.stats.rejected['payload-size'], 1);
});

test('a QoS 2 publish gets no PUBREC and is not delivered; the connection stays up', async () => {
  const w = await watcher('watch-qos2');
  const pub = await connected('pub-qos2');
  pub.send({ cmd: 'publish', topic: 'dt/q2', payload: Buffer.from('2'), qos: 2, messageId: 9, dup: false, retain: false });
  assert.equal(await pub.next('pubrec', 300), undefined);
  pub.send({ cmd: 'pingreq' });
  assert.ok(await pub.next('pingresp'));
  assert.equal(pub.closed, false);
  assert.deepEqual(w.topics(), []);
  assert.equal(endpoint.stats.rejected['qos2-publish'], 1);
});

test('a SUBSCRIBE asking QoS 2 gets no SUBACK', async () => {
  const c = await connected('sub-qos2');
  c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'cmd/#', qos: 2 }] });
  assert.equal(await c.next('suback', 300), undefined);
  assert.equal(endpoint.stats.rejected['qos2-subscribe'], 1);
});

test('a filter with 8 slashes is refused in SUBACK (0x80)', async () => {
  const c = await connected('sub-depth');
  c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'a/b/c/d/e/f/g/h/i', qos: 1 }, { topic: 'cmd/+', qos: 1 }] });
  const suback = (await c.next('suback')) as { granted: number[] } | undefined;
  assert.deepEqual(suback?.granted, [128, 1]);
});

test('a second connection with the same client id disconnects the first', async () => {
  const takeoversBefore = endpoint.stats.takeovers;
  const first = await connected('twin');
  const second = await connected('twin');
  assert.ok(await first.waitClosed());
  assert.equal(second.closed, false);
  assert.equal(endpoint.stats.takeovers, takeoversBefore + 1);
});

test('a second CONNECT for a client id within 1 s is closed; after 1 s it is accepted', async () => {
  await connected('rate');
  clock.advance(999);
  const early = await client();
  assert.equal(await early.connect('rate'), undefined);
  assert.equal(endpoint.stats.rejected['connect-rate'], 1);
  clock.advance(1); // 1000 ms after the accepted CONNECT
  const later = await client();
  assert.equal((await later.connect('rate'))?.cmd, 'connack');
});

test('keepalive is clamped to 30..1200 s and recorded', async () => {
  for (const [requested, effective] of [
    [5, 30],
    [0, 1200],
    [5000, 1200],
    [60, 60],
  ]) {
    await connected(`ka-${requested}`, requested);
    const entry = endpoint.stats.keepalive.findLast((k) => k.clientId === `ka-${requested}`);
    assert.deepEqual(entry, { clientId: `ka-${requested}`, requested, effective });
  }
  const live = endpoint.sessions().find((s) => s.clientId === 'ka-5');
  assert.deepEqual(live?.keepalive, { requested: 5, effective: 30 });
});

test('silence longer than 1.5 x the clamped keepalive disconnects, on the injected clock', async () => {
  const c = await connected('quiet', 10); // clamped to 30 s: deadline 45 s
  const timeoutsBefore = endpoint.stats.keepaliveTimeouts;
  clock.advance(30_000);
  c.send({ cmd: 'pingreq' }); // activity restarts the window
  assert.ok(await c.next('pingresp'));
  clock.advance(44_000);
  endpoint.sweep(); // a sweep drops a timed-out session at once: 'quiet' is still there, or it is gone now
  assert.ok(endpoint.sessions().some((s) => s.clientId === 'quiet'));
  clock.advance(2_000);
  endpoint.sweep();
  assert.ok(await c.waitClosed());
  assert.ok(endpoint.stats.keepaliveTimeouts > timeoutsBefore);
});
