/**
 * Every move of the link table happens: the supervisor is driven through each
 * one on a fake HAL whose Wi-Fi, time server and streams the test answers by
 * hand. Also: the goodbye's order, and a certificate date failure re-syncing
 * the clock before the next attempt.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hal, LinkError, SecureStreamOptions, TimeReading, WifiJoinOptions } from '../../../hal/types';
import { LinkSupervisor } from '../../../firmware/link/supervisor';
import { TRANSITIONS } from '../../../firmware/link/states';
import { MqttClient } from '../../../firmware/mqtt/client';
import { resolveConfig } from '../../../firmware/app/config';
import { DEFAULT_TIME_POLICY, Timekeeper } from '../../../firmware/time/timekeeper';
import { FakeTime } from '../helpers/fake-time';
import { FakeStream, fromBroker } from '../helpers/fake-stream';

const seen = new Set<string>();

function rig() {
  const time = new FakeTime();
  const ops: string[] = [];
  const joins: WifiJoinOptions[] = [];
  const queries: ((r: TimeReading | LinkError) => void)[] = [];
  const opened: { options: SecureStreamOptions; stream: FakeStream }[] = [];
  const backoffs: Record<string, unknown>[] = [];
  const hal = {
    clock: { ...time.clock, query: (server: string, done: (r: TimeReading | LinkError) => void) => { queries.push(done); } },
    timers: time.timers_,
    entropy: { random32: () => 0 },
    log: { event: (e: string, f?: Record<string, unknown>) => {
      if (e === 'link.transition') seen.add(`${f!.from}/${f!.event}`);
      if (e === 'link.backoff') backoffs.push(f!);
    } },
    wifi: { join: (o: WifiJoinOptions) => { joins.push(o); }, leave: () => { ops.push('wifi.leave'); }, setPowerSave() {} },
    network: {
      openSecure(options: SecureStreamOptions) {
        const stream = new FakeStream();
        const end = stream.end.bind(stream);
        stream.end = (done) => { ops.push(`end after ${stream.take().map((p) => p.cmd).join(',')}`); end(done); };
        opened.push({ options, stream });
        return stream;
      },
    },
  } as unknown as Hal;
  const config = resolveConfig({ timeServers: ['only'] });
  const keeper = new Timekeeper(hal.clock, config.timeServers, { ...DEFAULT_TIME_POLICY, buildTimeMs: 0 }, { load: () => undefined, save: () => {} });
  let supervisor!: LinkSupervisor;
  const client = new MqttClient({ clock: time.clock, timers: time.timers_, clientId: config.thing, keepAliveS: 60 }, {
    onConnected: () => supervisor.mqttConnected(),
    onClosed: (r) => supervisor.mqttClosed(r),
  });
  supervisor = new LinkSupervisor(hal, config, client, keeper);
  const s = {
    supervisor, time, ops, keeper, opened, backoffs,
    joined: () => joins.at(-1)!.onJoined({ channel: 1, bssid: 'b' }),
    joinFails: () => joins.at(-1)!.onError({ category: 'wifi', message: 'no AP' }),
    lost: () => joins.at(-1)!.onLost({ category: 'wifi', message: 'AP gone' }),
    timeAnswers: (wallMs = Date.UTC(2026, 3, 1)) => queries.shift()!({ wallMs, server: 'only' }),
    timeFails: () => queries.shift()!({ category: 'timeout', message: 'no answer' }),
    tlsUp: () => opened.at(-1)!.options.onConnect({ alpn: 'x-amzn-mqtt-ca', resumed: false }),
    tlsFails: (error: LinkError = { category: 'tcp', message: 'refused' }) => opened.at(-1)!.options.onError(error),
    connack: (returnCode = 0) => opened.at(-1)!.options.onData(fromBroker({ cmd: 'connack', returnCode, sessionPresent: false })),
    online: () => { s.supervisor.start(); s.joined(); s.timeAnswers(); s.tlsUp(); s.connack(); },
  };
  return s;
}

test('the happy path and the goodbye: DISCONNECT goes out before the graceful end, the radio goes off after it', () => {
  const r = rig();
  r.online();
  assert.equal(r.supervisor.state, 'Online');
  r.opened[0].stream.take();
  let done = false;
  r.supervisor.stop(() => { done = true; });
  assert.deepEqual(r.ops, ['end after disconnect', 'wifi.leave']);
  assert.equal(done, true);
  assert.equal(r.supervisor.state, 'Sleep');
});

test('Wi-Fi fails, the backoff ends, the next join is stopped', () => {
  const r = rig();
  r.supervisor.start();
  r.joinFails();
  assert.equal(r.supervisor.state, 'Backoff');
  r.time.advance(60_000);
  assert.equal(r.supervisor.state, 'WifiJoin');
  r.supervisor.stop();
  assert.equal(r.supervisor.state, 'Sleep');
});

test('time sync fails; a backoff is stopped; Wi-Fi lost or a stop during the sync', () => {
  const a = rig();
  a.supervisor.start();
  a.joined();
  a.timeFails();
  assert.equal(a.supervisor.state, 'Backoff');
  a.supervisor.stop();
  const b = rig();
  b.supervisor.start();
  b.joined();
  b.lost();
  assert.equal(b.supervisor.state, 'Backoff');
  const c = rig();
  c.supervisor.start();
  c.joined();
  c.supervisor.stop();
  assert.equal(c.supervisor.state, 'Sleep');
});

test('TLS fails, loses Wi-Fi, or is stopped', () => {
  for (const how of ['fail', 'lost', 'stop'] as const) {
    const r = rig();
    r.supervisor.start();
    r.joined();
    r.timeAnswers();
    assert.equal(r.supervisor.state, 'TlsConnect');
    if (how === 'fail') r.tlsFails();
    else if (how === 'lost') r.lost();
    else r.supervisor.stop();
    assert.equal(r.supervisor.state, how === 'stop' ? 'Sleep' : 'Backoff', how);
  }
});

test('MQTT is refused, loses Wi-Fi, or is stopped; an Online link is lost or loses Wi-Fi', () => {
  for (const how of ['refused', 'lost', 'stop', 'online-lost', 'online-wifi'] as const) {
    const r = rig();
    r.supervisor.start();
    r.joined();
    r.timeAnswers();
    r.tlsUp();
    assert.equal(r.supervisor.state, 'MqttConnect');
    if (how === 'refused') r.connack(3);
    else if (how === 'lost') r.lost();
    else if (how === 'stop') r.supervisor.stop();
    else {
      r.connack();
      if (how === 'online-lost') r.tlsFails({ category: 'closed', message: 'peer closed' });
      else r.lost();
    }
    assert.equal(r.supervisor.state, how === 'stop' ? 'Sleep' : 'Backoff', how);
    if (how === 'lost' || how === 'online-wifi') assert.equal(r.backoffs.at(-1)?.failure, 'wifi', `${how}: classed as wifi`);
  }
});

test('a certificate not valid at the device clock: the clock is distrusted and synced again before the next TLS attempt', () => {
  const r = rig();
  r.supervisor.start();
  r.joined();
  r.timeAnswers(Date.UTC(2031, 0, 1)); // a server lying about the future
  r.tlsFails({ category: 'tls-cert', reason: 'time', message: 'certificate not yet valid' });
  assert.equal(r.supervisor.state, 'Backoff');
  assert.equal(r.keeper.needsSync(), true);
  r.time.advance(30_000);
  r.joined(); // the radio was off for the wait
  assert.equal(r.supervisor.state, 'TimeSync', 'synced again, not straight to TLS');
  r.timeAnswers(Date.UTC(2026, 3, 1));
  r.tlsUp();
  r.connack();
  assert.equal(r.supervisor.state, 'Online');
});

after(() => {
  const all = Object.entries(TRANSITIONS).flatMap(([from, row]) => Object.keys(row).map((event) => `${from}/${event}`));
  assert.deepEqual(all.filter((m) => !seen.has(m)), [], 'every move of the link table happened');
});
