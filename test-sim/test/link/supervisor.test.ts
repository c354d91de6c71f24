import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hal, LinkError, SecureStreamOptions } from '../../../hal/types';
import { LinkSupervisor } from '../../../firmware/link/supervisor';
import { DEFAULT_POLICY, freshCounters } from '../../../firmware/link/decide';
import { DEFAULT_TIME_POLICY, Timekeeper } from '../../../firmware/time/timekeeper';
import { MqttClient } from '../../../firmware/mqtt/client';
import { resolveConfig } from '../../../firmware/app/config';
import { FakeTime } from '../helpers/fake-time';
import { FakeStream, fromBroker } from '../helpers/fake-stream';

/** A supervisor on a fake HAL: Wi-Fi joins at once, each secure stream connects on the next tick. */
function rig() {
  const time = new FakeTime();
  const logs: [string, Record<string, unknown>?][] = [];
  const opened: { options: SecureStreamOptions; stream: FakeStream }[] = [];
  let random = 0xffffffff;
  let autoAccept = true;
  const hal = {
    clock: time.clock,
    timers: time.timers_,
    entropy: { random32: () => random },
    log: { event: (e: string, f?: Record<string, unknown>) => logs.push([e, f]) },
    wifi: { join: (o: { onJoined(h: unknown): void }) => time.timers_.set(() => o.onJoined({ channel: 1, bssid: 'x' }), 0), leave() {}, setPowerSave() {} },
    network: {
      openSecure(options: SecureStreamOptions) {
        const stream = new FakeStream();
        opened.push({ options, stream });
        time.timers_.set(() => {
          options.onConnect({ alpn: 'x-amzn-mqtt-ca', resumed: false });
          if (autoAccept && stream.take().some((p) => p.cmd === 'connect')) accept();
        }, 0);
        return stream;
      },
    },
  } as unknown as Hal;
  const config = resolveConfig({});
  let supervisor!: LinkSupervisor;
  const client = new MqttClient({ clock: time.clock, timers: time.timers_, clientId: config.thing, keepAliveS: 1200 }, {
    onConnected: () => supervisor.mqttConnected(),
    onClosed: (r) => supervisor.mqttClosed(r),
  });
  const timekeeper = new Timekeeper(time.clock, ['a', 'b'], { ...DEFAULT_TIME_POLICY, buildTimeMs: 0 }, { load: () => undefined, save: () => {} });
  supervisor = new LinkSupervisor(hal, config, client, timekeeper);
  const accept = () => client.receive(fromBroker({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
  const drop = (error: LinkError = { category: 'closed', message: 'peer closed' }) => opened.at(-1)!.options.onError(error);
  const attempts = () => logs.filter(([e]) => e === 'link.backoff').map(([, f]) => f!.attempt as number);
  return { time, supervisor, accept, drop, attempts, opened, logs, setRandom: (r: number) => { random = r; }, manual: () => { autoAccept = false; } };
}

test('the attempt counter resets only after the link stayed up stableMs (30 s)', () => {
  const r = rig();
  r.supervisor.start();
  r.time.advance(1);
  r.time.advance(10_000);
  r.drop();
  r.time.advance(1500);
  assert.equal(r.supervisor.state, 'Online');
  r.time.advance(5_000);
  r.drop();
  assert.deepEqual(r.attempts(), [1, 2], 'a 5 s connection does not reset the count');
  r.time.advance(2500);
  assert.equal(r.supervisor.state, 'Online');
  r.time.advance(DEFAULT_POLICY.stableMs);
  r.drop();
  assert.deepEqual(r.attempts(), [1, 2, 1], 'a connection up 30 s resets it');
});

test('a goodbye from Online resets the attempt counters; a stop while backing off keeps them', () => {
  const r = rig();
  r.supervisor.start();
  r.time.advance(1);
  r.drop();
  r.time.advance(1500);
  r.drop();
  assert.deepEqual(r.supervisor.exportState().counters.attempts.network, 2);
  r.supervisor.stop();
  assert.equal(r.supervisor.exportState().counters.attempts.network, 2, 'stopped in Backoff: the count survives the deep sleep');
  const s = rig();
  s.supervisor.start();
  s.time.advance(1);
  s.drop();
  s.time.advance(1500);
  assert.equal(s.supervisor.state, 'Online');
  s.supervisor.stop();
  assert.deepEqual(s.supervisor.exportState().counters, freshCounters(), 'a session the device ended itself worked');
});

test('two CONNECTs are never less than a second apart, whatever the random draw', () => {
  const r = rig();
  r.manual();
  r.setRandom(0);
  r.supervisor.start();
  r.time.advance(1);
  const opens: number[] = [];
  for (let i = 0; i < 5; i++) {
    opens.push(r.time.ms);
    r.drop({ category: 'tcp', message: 'refused' });
    r.time.advance(999);
    assert.equal(r.opened.length, i + 1, 'no new attempt within 999 ms');
    r.time.advance(1);
  }
  assert.equal(r.opened.length, 6);
});

test('illegal moves are refused and logged, never acted on', () => {
  const r = rig();
  r.supervisor.mqttConnected();
  assert.equal(r.supervisor.state, 'Boot');
  assert.deepEqual(r.logs.at(-1), ['link.illegal', { state: 'Boot', event: 'MqttUp' }]);
});
