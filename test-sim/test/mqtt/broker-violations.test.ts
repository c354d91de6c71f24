/**
 * A broker that breaks MQTT 3.1.1's rules for what a server may send: each rule
 * a client can check closes the connection with its own typed reason, and a
 * PUBLISH left unacknowledged closes it at the PUBACK deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttClient, type CloseReason } from '../../../firmware/mqtt/client';
import { MqttError } from '../../../firmware/mqtt/errors';
import { classifyClose } from '../../../firmware/link/classify';
import { FakeTime } from '../helpers/fake-time';
import { FakeStream, fromBroker } from '../helpers/fake-stream';

function setup(options: Partial<ConstructorParameters<typeof MqttClient>[0]> = {}) {
  const time = new FakeTime();
  const closed: CloseReason[] = [];
  const acked: number[] = [];
  let delivered = 0;
  const client = new MqttClient(
    { clock: time.clock, timers: time.timers_, clientId: 'thing-1', keepAliveS: 60, ...options },
    { onClosed: (r) => closed.push(r), onAcked: (id) => acked.push(id), onMessage: () => { delivered++; } },
  );
  const stream = new FakeStream();
  const connect = (sessionPresent = false) => {
    client.start(stream);
    client.receive(fromBroker({ cmd: 'connack', returnCode: 0, sessionPresent }));
  };
  return { time, client, stream, closed, acked, connect, delivered: () => delivered };
}

function publish1(client: MqttClient): number {
  const r = client.publish('dt/app/thing-1/telemetry', new Uint8Array([1]), 1);
  assert.ok(!(r instanceof MqttError));
  return r.packetId!;
}

test('a packet other than CONNACK first closes with before-connack [MQTT-3.2.0-1], and nothing is answered', () => {
  const packets = [
    { cmd: 'puback', messageId: 1 },
    { cmd: 'pubrel', messageId: 1 },
    { cmd: 'pingresp' },
    { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 3 },
    { cmd: 'suback', messageId: 1, granted: [0] },
  ];
  for (const packet of packets) {
    const { client, stream, closed } = setup({ profile: 'generic' });
    client.start(stream);
    stream.take();
    client.receive(fromBroker(packet));
    assert.equal(closed[0]?.kind, 'before-connack', String(packet.cmd));
    assert.deepEqual(stream.take(), [], `${packet.cmd}: no PUBCOMP, PUBACK or anything else before CONNACK`);
    assert.equal(classifyClose(closed[0]), 'protocol');
  }
});

test('session present after a clean-session CONNECT closes with session-present [MQTT-3.2.2-1]', () => {
  const { client, stream, closed } = setup({ cleanSession: true });
  client.start(stream);
  client.receive(fromBroker({ cmd: 'connack', returnCode: 0, sessionPresent: true }));
  assert.equal(closed[0]?.kind, 'session-present');
  assert.equal(client.connected, false);
  const kept = setup({ cleanSession: false });
  kept.connect(true);
  assert.equal(kept.client.connected, true, 'a kept session may be present');
});

test('a second CONNACK closes with second-connack', () => {
  const { client, closed, connect } = setup();
  connect();
  client.receive(fromBroker({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
  assert.equal(closed[0]?.kind, 'second-connack');
});

test('acknowledgements for ids never sent close with unknown-packet-id: PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK', () => {
  const packets = [
    { cmd: 'puback', messageId: 77 },
    { cmd: 'pubrec', messageId: 1 },
    { cmd: 'pubcomp', messageId: 1 },
    { cmd: 'suback', messageId: 9, granted: [0] },
    { cmd: 'unsuback', messageId: 9 },
  ];
  for (const packet of packets) {
    const { client, closed, connect } = setup({ profile: 'generic' });
    connect();
    publish1(client); // id 1 is in flight as QoS 1: PUBREC/PUBCOMP are still wrong for it
    client.receive(fromBroker(packet));
    assert.equal(closed[0]?.kind, 'unknown-packet-id', String(packet.cmd));
  }
});

test('a repeated PUBACK for an id already settled is a violation too', () => {
  const { client, closed, acked, connect } = setup();
  connect();
  const id = publish1(client);
  client.receive(fromBroker({ cmd: 'puback', messageId: id }));
  client.receive(fromBroker({ cmd: 'puback', messageId: id }));
  assert.deepEqual(acked, [id]);
  assert.equal(closed[0]?.kind, 'unknown-packet-id');
});

test('QoS 2 from an AWS-profile broker closes with qos2-refused; nothing is delivered or answered', () => {
  for (const packet of [{ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: 5 }, { cmd: 'pubrel', messageId: 5 }]) {
    const { client, stream, closed, connect, delivered } = setup();
    connect();
    stream.take();
    client.receive(fromBroker(packet));
    assert.equal(closed[0]?.kind, 'qos2-refused', String(packet.cmd));
    assert.equal(delivered(), 0);
    assert.deepEqual(stream.take(), []);
  }
});

test('a QoS 2 flood without PUBREL is bounded under the generic profile (qos2-limit), and released ids free room', () => {
  const { client, stream, closed, connect, delivered } = setup({ profile: 'generic' });
  connect();
  const q2 = (id: number) => client.receive(fromBroker({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: id }));
  for (let id = 1; id <= 32; id++) q2(id);
  client.receive(fromBroker({ cmd: 'pubrel', messageId: 1 }));
  q2(33);
  assert.equal(closed.length, 0, 'PUBREL made room for one more');
  q2(34);
  assert.equal(closed[0]?.kind, 'qos2-limit');
  assert.equal(delivered(), 33);
  assert.equal(stream.closed, true);
});

test('a PUBLISH unacknowledged past the PUBACK deadline (default 2x keepalive) closes with puback-timeout, though pings are answered', () => {
  const { client, stream, time, closed, connect } = setup({ keepAliveS: 60 });
  connect();
  publish1(client);
  for (let t = 0; t < 119; t++) {
    time.advance(1000);
    for (const p of stream.take() as { cmd: string }[]) if (p.cmd === 'pingreq') client.receive(fromBroker({ cmd: 'pingresp' }));
  }
  assert.equal(closed.length, 0);
  time.advance(1000);
  assert.equal(closed[0]?.kind, 'puback-timeout');
  assert.equal(classifyClose(closed[0]), 'timeout');
});

test('the PUBACK deadline is configurable, follows the oldest unacknowledged PUBLISH, and restarts on republish', () => {
  const { client, stream, time, closed, connect } = setup({ pubackTimeoutMs: 5000 });
  connect();
  const a = publish1(client);
  time.advance(3000);
  publish1(client);
  time.advance(1000);
  client.receive(fromBroker({ cmd: 'puback', messageId: a }));
  time.advance(3500);
  assert.equal(closed.length, 0, 'the second PUBLISH has waited 4.5 s of its 5');
  time.advance(600);
  assert.equal(closed[0]?.kind, 'puback-timeout');
  stream.closed = false;
  stream.take();
  connect(true);
  assert.equal((stream.take() as { cmd: string }[]).filter((p) => p.cmd === 'publish').length, 1, 'republished');
  time.advance(4900);
  assert.equal(closed.length, 1, 'a fresh deadline for the republish');
  time.advance(200);
  assert.equal(closed[1]?.kind, 'puback-timeout');
});
