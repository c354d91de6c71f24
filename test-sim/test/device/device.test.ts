/**
 * The firmware across boots on a hand-driven HAL (helpers/fake-device.ts):
 * acknowledged-prefix consumption, the goodbye before deep sleep, a deep sleep
 * the HAL refuses, the watchdog, and every move of the device table.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { encodeSample } from '../../../firmware/telemetry/record';
import { DEVICE_TRANSITIONS } from '../../../firmware/device/states';
import type { FirmwareView } from '../../../firmware/app/view';
import { FakeDevice } from '../helpers/fake-device';

const DUTY = { powerMode: 'duty', sampleIntervalMs: 60_000, uploadIntervalMs: 600_000, timeServers: ['a', 'b'] };
const moves = new Set<string>();

function collect(device: FakeDevice): void {
  for (const f of device.events('app.transition')) moves.add(`${f.from}/${f.event}`);
}

/** Samples waiting on flash from before this boot (an outage), with ids 1..n. */
function backlog(device: FakeDevice, n: number): void {
  const queue = TelemetryQueue.open(device.flash);
  for (let i = 0; i < n; i++) queue.append(encodeSample({ t: Date.UTC(2026, 0, 1) + i * 60_000, v: i }));
}

function view(device: FakeDevice): FirmwareView {
  return device.app!.inspect!() as FirmwareView;
}

test('a PUBACK for batch 2 before batch 1 consumes nothing; batch 1 lost with the connection is sent again', () => {
  let floorAtClose = -1;
  const device = new FakeDevice(DUTY, {
    puback: (n, index) => (n === 1 && index === 0 ? 'drop' : 'now'),
    closeAfterAck: (n, index) => {
      if (n === 1 && index === 1) floorAtClose = view(device).floor;
      return n === 1 && index === 1;
    },
  });
  backlog(device, 300);
  device.boot();
  device.runUntilHalt();
  assert.equal(floorAtClose, 0, 'batch 2 acknowledged, batch 1 not: nothing is consumed');
  for (let boots = 0; boots < 20 && device.delivered.size < 301; boots++) {
    collect(device);
    device.wake();
    device.runUntilHalt();
  }
  collect(device);
  for (let seq = 1; seq <= 301; seq++) assert.ok(device.delivered.has(seq), `sample ${seq} delivered`);
  assert.equal(view(device).floor, 301);
});

test('a duty-cycled wake says goodbye before it sleeps: DISCONNECT, graceful end, radio off, then deep sleep', () => {
  const device = new FakeDevice(DUTY);
  backlog(device, 20);
  device.boot();
  device.runUntilHalt();
  collect(device);
  const order = device.ops.map((o) => (o.op === 'write' ? o.cmd : o.op)).filter((o) => ['puback', 'disconnect', 'end', 'close', 'wifi.leave', 'deep-sleep', 'publish'].includes(o));
  const tail = order.slice(order.lastIndexOf('publish') + 1);
  assert.deepEqual(tail, ['disconnect', 'end', 'wifi.leave', 'deep-sleep']);
  assert.equal(device.delivered.size, 21);
  const link = device.events('link.transition').map((f) => f.to);
  assert.deepEqual(link.slice(-2), ['Closing', 'Sleep']);
});

test('a deep sleep the HAL refuses restarts the device, and the restart loses nothing', () => {
  const device = new FakeDevice(DUTY, { connack: () => false });
  backlog(device, 5);
  device.boot();
  device.refuseSleep = true;
  device.runUntilHalt(200_000);
  collect(device);
  assert.equal(device.restarted, true);
  assert.equal(device.events('power.deep-sleep-refused').length, 1);
  device.refuseSleep = false;
  const app = device.wake();
  const after = app.inspect!() as FirmwareView;
  assert.equal(device.events('app.boot').at(-1)!.reason, 'reset');
  assert.equal(device.events('app.boot').at(-1)!.retained, true, 'the retained state stored before the refusal is there');
  assert.equal(after.floor, 0);
  assert.ok(after.nextSeq >= 7, 'the 5 queued, the one taken before the restart and the one after: ids carry on');
  assert.equal(after.pending, after.nextSeq - 1, 'nothing lost');
});

test('the watchdog is fed while a wake waits on an access point that never answers, and the awake limit ends it', () => {
  const device = new FakeDevice(DUTY);
  device.wifiHangs = true;
  backlog(device, 3);
  device.boot();
  const fedAt: number[] = [];
  let last = device.feeds;
  for (let t = 0; t < 120_000 && device.sleepMs === undefined && !device.restarted; t += 100) {
    device.time.advance(100);
    if (device.feeds !== last) fedAt.push(t);
    last = device.feeds;
  }
  collect(device);
  const gaps = fedAt.slice(1).map((t, i) => t - fedAt[i]);
  assert.ok(fedAt.length >= 44, `${fedAt.length} feeds in 90 s`);
  assert.ok(Math.max(...gaps) <= 2000, `longest gap between feeds ${Math.max(...gaps)} ms`);
  assert.equal(device.events('power.awake-limit').length, 1);
});

test('nothing due: the wake samples and sleeps without the radio; always connected serves', () => {
  const duty = new FakeDevice(DUTY);
  duty.boot();
  duty.runUntilHalt();
  duty.wake();
  duty.runUntilHalt();
  collect(duty);
  assert.equal(duty.ops.filter((o) => o.op === 'wifi.join').length, 1, 'the second wake had nothing due');
  const always = new FakeDevice({ powerMode: 'always', timeServers: ['a', 'b'] });
  always.boot();
  always.time.advance(10_000);
  collect(always);
  assert.equal(view(always).device, 'Serving');
  assert.equal(view(always).state, 'Online');
});

after(() => {
  const all = Object.entries(DEVICE_TRANSITIONS).flatMap(([from, row]) => Object.keys(row).map((event) => `${from}/${event}`));
  const missing = all.filter((m) => !moves.has(m));
  assert.deepEqual(missing, [], 'every move of the device table happened in these tests');
});
