import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttClient, type CloseReason, type IncomingMessage } from '../../../firmware/mqtt/client';
import { MqttError } from '../../../firmware/mqtt/errors';
import { FakeTime } from '../helpers/fake-time';
import { FakeStream, fromBroker } from '../helpers/fake-stream';

function setup(options: Partial<ConstructorParameters<typeof MqttClient>[0]> = {}) {
  const time = new FakeTime();
  const closed: CloseReason[] = [];
  const acked: number[] = [];
  const messages: IncomingMessage[] = [];
  let accept = true;
  const client = new MqttClient(
    { clock: time.clock, timers: time.timers_, clientId: 'thing-1', keepAliveS: 60, ...options },
    {
      onClosed: (r) => closed.push(r),
      onAcked: (id) => acked.push(id),
      onMessage: (m) => { messages.push(m); return accept; },
    },
  );
  const stream = new FakeStream();
  const connect = (sessionPresent = false) => {
    client.start(stream);
    client.receive(fromBroker({ cmd: 'connack', returnCode: 0, sessionPresent }));
  };
  return { time, client, stream, closed, acked, messages, connect, reject: () => { accept = false; } };
}

test('CONNECT carries the client id, keepalive clamped by the AWS profile and a kept session', () => {
  const { client, stream } = setup({ keepAliveS: 5 });
  client.start(stream);
  const [connect] = stream.take() as any[];
  assert.equal(connect.cmd, 'connect');
  assert.equal(connect.clientId, 'thing-1');
  assert.equal(connect.keepalive, 30, 'AWS clamps keepalive to at least 30 s');
  assert.equal(connect.clean, false);
});

test('QoS 1 publish is tracked until PUBACK and reported once', () => {
  const { client, stream, acked, connect } = setup();
  connect();
  stream.take();
  const r = client.publish('dt/app/thing-1/telemetry', new Uint8Array([1, 2, 3]), 1);
  assert.ok(!(r instanceof MqttError));
  const [p] = stream.take() as any[];
  assert.equal(p.cmd, 'publish');
  assert.equal(p.qos, 1);
  assert.equal(p.messageId, r.packetId);
  assert.equal(client.session.inflightCount, 1);
  client.receive(fromBroker({ cmd: 'puback', messageId: r.packetId }));
  client.receive(fromBroker({ cmd: 'puback', messageId: r.packetId }));
  assert.deepEqual(acked, [r.packetId]);
  assert.equal(client.session.inflightCount, 0);
});

test('packet ids wrap from 65535 to 1 and skip ids still in flight', () => {
  const { client, connect } = setup({ profile: 'generic', maxInflight: 65535 });
  connect();
  const first = client.publish('t', new Uint8Array(0), 1) as { packetId: number };
  assert.equal(first.packetId, 1);
  for (let i = 2; i <= 65535; i++) {
    const r = client.publish('t', new Uint8Array(0), 0);
    assert.ok(!(r instanceof MqttError));
    (client.session as any).lastId = i;
  }
  const next = client.publish('t', new Uint8Array(0), 1) as { packetId: number };
  assert.equal(next.packetId, 2, 'id 1 is still in flight, so the wrap skips it');
});

test('after a reconnect, unacknowledged QoS 1 messages go again: DUP=1 with a kept session, new otherwise', () => {
  const { client, stream, connect } = setup();
  connect();
  const a = client.publish('t/a', new Uint8Array([1]), 1) as { packetId: number };
  client.streamFailed({ category: 'closed', message: 'peer closed' });
  stream.closed = false;
  stream.take();
  connect(true);
  const again = (stream.take() as any[]).filter((p) => p.cmd === 'publish');
  assert.equal(again.length, 1);
  assert.equal(again[0].messageId, a.packetId);
  assert.equal(again[0].dup, true);
  client.streamFailed({ category: 'closed', message: 'peer closed' });
  stream.closed = false;
  stream.take();
  connect(false);
  const fresh = (stream.take() as any[]).filter((p) => p.cmd === 'publish');
  assert.equal(fresh.length, 1);
  assert.equal(fresh[0].dup, false);
});

test('subscriptions are restored when the broker reports no session', () => {
  const { client, stream, connect } = setup();
  connect();
  const s = client.subscribe([{ topic: 'cmd/app/thing-1/#', qos: 1 }]) as { packetId: number };
  client.receive(fromBroker({ cmd: 'suback', messageId: s.packetId, granted: [1] }));
  client.streamFailed({ category: 'closed', message: 'x' });
  stream.closed = false;
  stream.take();
  connect(false);
  const sub = (stream.take() as any[]).find((p) => p.cmd === 'subscribe');
  assert.deepEqual(sub.subscriptions.map((x: any) => [x.topic, x.qos]), [['cmd/app/thing-1/#', 1]]);
  client.streamFailed({ category: 'closed', message: 'x' });
  stream.closed = false;
  stream.take();
  connect(true);
  assert.equal((stream.take() as any[]).filter((p) => p.cmd === 'subscribe').length, 0, 'a kept session keeps its subscriptions');
});

test('incoming QoS 1 is acknowledged only after the application accepts it', () => {
  const { client, stream, messages, connect, reject } = setup();
  connect();
  stream.take();
  client.receive(fromBroker({ cmd: 'publish', topic: 'cmd/x', payload: Buffer.from('hi'), qos: 1, messageId: 7 }));
  assert.equal(messages.length, 1);
  assert.deepEqual((stream.take() as any[]).map((p) => [p.cmd, p.messageId]), [['puback', 7]]);
  reject();
  client.receive(fromBroker({ cmd: 'publish', topic: 'cmd/x', payload: Buffer.from('no'), qos: 1, messageId: 8 }));
  assert.equal(stream.take().length, 0, 'no PUBACK for a message the application did not accept');
});

test('incoming QoS 2 is delivered once, answered with PUBREC and PUBCOMP', () => {
  const { client, stream, messages, connect } = setup({ profile: 'generic' });
  connect();
  stream.take();
  const publish = fromBroker({ cmd: 'publish', topic: 'x', payload: Buffer.from('q2'), qos: 2, messageId: 9 });
  client.receive(publish);
  client.receive(fromBroker({ cmd: 'publish', topic: 'x', payload: Buffer.from('q2'), qos: 2, messageId: 9, dup: true }));
  client.receive(fromBroker({ cmd: 'pubrel', messageId: 9 }));
  assert.equal(messages.length, 1);
  assert.deepEqual((stream.take() as any[]).map((p) => p.cmd), ['pubrec', 'pubrec', 'pubcomp']);
});

test('PINGREQ only after a keepalive interval with nothing sent; a missing PINGRESP declares the link dead', () => {
  const { client, stream, time, closed, connect } = setup({ keepAliveS: 60, pingTimeoutMs: 5000 });
  connect();
  stream.take();
  time.advance(40_000);
  client.publish('t', new Uint8Array(1), 0);
  time.advance(40_000);
  assert.deepEqual((stream.take() as any[]).map((p) => p.cmd), ['publish'], 'the publish reset the keepalive interval');
  time.advance(20_000);
  assert.deepEqual((stream.take() as any[]).map((p) => p.cmd), ['pingreq']);
  client.receive(fromBroker({ cmd: 'pingresp' }));
  time.advance(60_000);
  assert.deepEqual((stream.take() as any[]).map((p) => p.cmd), ['pingreq']);
  time.advance(5_000);
  assert.equal(closed.length, 1);
  assert.equal(closed[0].kind, 'keepalive-timeout');
  assert.ok(stream.closed);
});

test('no CONNACK within the deadline closes with a timeout', () => {
  const { client, stream, time, closed } = setup({ connackTimeoutMs: 3000 });
  client.start(stream);
  time.advance(3000);
  assert.equal(closed[0]?.kind, 'connack-timeout');
});

test('CONNACK refusals carry the return code', () => {
  for (const rc of [1, 2, 3, 4, 5]) {
    const { client, stream, closed } = setup();
    client.start(stream);
    client.receive(fromBroker({ cmd: 'connack', returnCode: rc, sessionPresent: false }));
    assert.equal(closed[0].kind, 'connack-refused');
    assert.equal(closed[0].returnCode, rc);
  }
});

test('malformed broker input closes the link with a typed reason and nothing throws', () => {
  const cases: [string, Uint8Array, string][] = [
    ['remaining length of 5 bytes', new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 'malformed-length'],
    ['oversize packet', new Uint8Array([0x30, 0xff, 0xff, 0x7f]), 'packet-too-large'],
    ['unknown packet type 15', new Uint8Array([0xf0, 0x00]), 'unknown-packet-type'],
    ['CONNACK with reserved code 6', new Uint8Array([0x20, 0x02, 0x00, 0x06]), 'bad-return-code'],
    ['a client-only packet (SUBSCRIBE) from the broker', fromBroker({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }), 'client-packet'],
    ['a client-only packet (PINGREQ) from the broker', new Uint8Array([0xc0, 0x00]), 'client-packet'],
  ];
  for (const [name, bytes, kind] of cases) {
    const { client, stream, closed, connect } = setup({ maxPacketSize: 4096 });
    if (kind === 'bad-return-code') client.start(stream);
    else connect();
    assert.doesNotThrow(() => client.receive(bytes), name);
    assert.equal(closed.length, 1, name);
    assert.deepEqual([closed[0].kind, closed[0].decode], ['malformed', kind], name);
    assert.ok(stream.closed, `${name}: the stream is closed`);
  }
});

test('the AWS profile refuses what AWS IoT Core would refuse, before sending', () => {
  const { client, stream, connect } = setup();
  connect();
  stream.take();
  const refuse = (r: unknown, kind: string) => {
    assert.ok(r instanceof MqttError, `expected ${kind}`);
    assert.equal(r.kind, kind);
  };
  refuse(client.publish('a/b/c/d/e/f/g/h/i', new Uint8Array(0), 0), 'limit');
  refuse(client.publish('x'.repeat(257), new Uint8Array(0), 0), 'limit');
  refuse(client.publish('t', new Uint8Array(128 * 1024 + 1), 1), 'limit');
  refuse(client.publish('t/+', new Uint8Array(0), 0), 'invalid-argument');
  refuse(client.publish('t', new Uint8Array(0), 2 as 1), 'limit');
  refuse(client.subscribe(Array.from({ length: 9 }, (_, i) => ({ topic: `t/${i}`, qos: 0 as const }))), 'limit');
  assert.equal(stream.take().length, 0, 'nothing was sent');
  assert.throws(() => new MqttClient({ clock: new FakeTime().clock, timers: new FakeTime().timers_, clientId: '$aws/x', keepAliveS: 60 }), /may not start with/);
  assert.throws(() => new MqttClient({ clock: new FakeTime().clock, timers: new FakeTime().timers_, clientId: 'x'.repeat(129), keepAliveS: 60 }), /at most 128/);
});

test('what MQTT forbids in SUBSCRIBE and UNSUBSCRIBE comes back from the encoder as invalid-argument, before anything is sent', () => {
  const { client, stream, connect } = setup();
  connect();
  stream.take();
  for (const r of [
    client.subscribe([]),
    client.subscribe([{ topic: 'a/#/b', qos: 0 }]),
    client.subscribe([{ topic: 'a\ud800', qos: 0 }]),
    client.subscribe([{ topic: 'a', qos: 3 as 0 }]),
    client.unsubscribe([]),
    client.unsubscribe(['a/#/b']),
  ]) {
    assert.ok(r instanceof MqttError && r.kind === 'invalid-argument', String(r instanceof Error ? r.message : JSON.stringify(r)));
  }
  assert.equal(stream.take().length, 0, 'nothing was sent');
  assert.ok(!(client.subscribe([{ topic: 'a/+', qos: 1 }]) instanceof MqttError), 'a valid SUBSCRIBE still goes out');
  assert.equal(stream.take().length, 1);
});

test('at most 100 QoS 1 messages in flight with the AWS profile; 50 subscriptions per connection', () => {
  const { client, connect } = setup();
  connect();
  for (let i = 0; i < 100; i++) assert.ok(!(client.publish('t', new Uint8Array(1), 1) instanceof MqttError));
  const r = client.publish('t', new Uint8Array(1), 1);
  assert.ok(r instanceof MqttError && r.kind === 'inflight-full');
  for (let i = 0; i < 50; i += 5) {
    const s = client.subscribe(Array.from({ length: 5 }, (_, j) => ({ topic: `c/${i + j}`, qos: 1 as const })));
    assert.ok(!(s instanceof MqttError));
  }
  const over = client.subscribe([{ topic: 'c/x', qos: 0 }]);
  assert.ok(over instanceof MqttError && over.kind === 'limit');
});

test('the subscription limit counts what the broker holds or is asked for: refused filters not, restored ones once', () => {
  const { client, stream, connect } = setup();
  connect();
  for (let i = 0; i < 50; i += 5) {
    const s = client.subscribe(Array.from({ length: 5 }, (_, j) => ({ topic: `c/${i + j}`, qos: 1 as const }))) as { packetId: number };
    client.receive(fromBroker({ cmd: 'suback', messageId: s.packetId, granted: i === 0 ? [1, 1, 1, 1, 128] : [1, 1, 1, 1, 1] }));
  }
  const one = client.subscribe([{ topic: 'c/x', qos: 0 }]);
  assert.ok(!(one instanceof MqttError), 'the filter the broker refused does not count');
  client.streamFailed({ category: 'closed', message: 'x' });
  stream.closed = false;
  stream.take();
  connect(false);
  const restored = (stream.take() as any[]).filter((p) => p.cmd === 'subscribe').flatMap((p) => p.subscriptions);
  assert.equal(restored.length, 49, 'the granted filters go again, not the refused one or the unanswered one');
  const over = client.subscribe([{ topic: 'c/y', qos: 0 }, { topic: 'c/z', qos: 0 }]);
  assert.ok(over instanceof MqttError && over.kind === 'limit', 'filters being restored count once');
  assert.ok(!(client.subscribe([{ topic: 'c/y', qos: 0 }]) instanceof MqttError));
});

test('the generic profile allows long topics and many slashes', () => {
  const { client, connect } = setup({ profile: 'generic' });
  connect();
  assert.ok(!(client.publish('a/b/c/d/e/f/g/h/i/j', new Uint8Array(0), 0) instanceof MqttError));
  assert.ok(!(client.publish('x'.repeat(1000), new Uint8Array(0), 0) instanceof MqttError));
});

test('writes say whether the broker answers them: CONNECT, QoS 1 PUBLISH and PINGREQ do; QoS 0, PUBACK and DISCONNECT do not', () => {
  const { client, stream, time, connect } = setup({ keepAliveS: 30 });
  connect();
  client.publish('t/1', new Uint8Array([1]), 1);
  client.publish('t/0', new Uint8Array([0]), 0);
  client.receive(fromBroker({ cmd: 'publish', topic: 'cmd/x', payload: Buffer.from('x'), qos: 1, messageId: 7 }));
  time.advance(30_000);
  client.disconnect();
  const kinds = (stream.take() as any[]).map((p) => (p.cmd === 'publish' ? `publish${p.qos}` : p.cmd));
  assert.deepEqual(kinds, ['connect', 'publish1', 'publish0', 'puback', 'pingreq', 'disconnect']);
  assert.deepEqual(stream.replies, [true, true, false, false, true, false]);
});
