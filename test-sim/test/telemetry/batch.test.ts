// Sample records, the sampler's sequence numbers, upload batches (schema, byte
// bound, cursors, dropped reporting), when a batch is due, and the topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFlash } from '../../flash/flash';
import type { Clock, Sensor } from '../../../hal/types';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { decodeSample, encodeSample } from '../../../firmware/telemetry/record';
import { Sampler } from '../../../firmware/telemetry/sampler';
import { AWS_MAX_PAYLOAD, batchDue, buildBatch } from '../../../firmware/telemetry/batch';
import { resolveConfig } from '../../../firmware/app/config';

const T0 = Date.UTC(2026, 0, 1);
const smallFlash = () => new SimFlash({ byteLength: 4 * 1024, blockSize: 1024 });

function fakeDevice(): { clock: Clock; sensor: Sensor; set(wall: number | undefined, value: number): void } {
  let wall: number | undefined;
  let value = 0;
  return {
    clock: { now: () => 0, wallTime: () => wall, query: (server, done) => done({ category: 'timeout', message: server }), setWallTime: () => {} },
    sensor: { read: () => value },
    set(w, v) {
      wall = w;
      value = v;
    },
  };
}

test('a sample encodes in 15 bytes with time, 9 without, and decodes to the same values', () => {
  for (const sample of [{ t: T0 + 123, v: 21.37 }, { t: null, v: -0.5 }, { t: 0, v: 1e300 }, { t: 2 ** 48 - 1, v: 0 }]) {
    const bytes = encodeSample(sample);
    assert.equal(bytes.length, sample.t === null ? 9 : 15);
    assert.deepEqual(decodeSample(bytes), sample);
  }
  assert.ok(Number.isNaN(decodeSample(encodeSample({ t: null, v: NaN }))!.v));
  assert.equal(encodeSample({ t: -5, v: 1 }).length, 9, 'a time that cannot be epoch ms is stored as unsynced');
  for (const bad of [new Uint8Array(0), new Uint8Array(10), Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0), new Uint8Array(15)]) {
    assert.equal(decodeSample(bad), undefined);
  }
});

test('the sampler numbers samples with queue ids, which keep rising across reboots', () => {
  const flash = smallFlash();
  const device = fakeDevice();
  let sampler = new Sampler(TelemetryQueue.open(flash), device.sensor, device.clock);
  device.set(undefined, 20);
  assert.deepEqual(sampler.sample(), { seq: 1, t: null, v: 20 });
  device.set(T0, 21);
  assert.deepEqual(sampler.sample(), { seq: 2, t: T0, v: 21 });
  // Reboot: a new queue and sampler on the same flash.
  const queue = TelemetryQueue.open(flash);
  queue.consume(2);
  sampler = new Sampler(TelemetryQueue.open(flash), device.sensor, device.clock);
  assert.deepEqual(sampler.sample(), { seq: 3, t: T0, v: 21 });
  assert.equal(sampler.counters.taken, 1);
});

function filled(n: number, flash = smallFlash()): TelemetryQueue {
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < n; i++) queue.append(encodeSample({ t: i % 3 === 0 ? null : T0 + i * 60_000, v: 20 + i / 4 }));
  return queue;
}

test('a batch is compact JSON with the documented schema', () => {
  const queue = filled(3);
  const batch = buildBatch(queue, { thing: 'dev-1', fw: '0.2.0' })!;
  const text = new TextDecoder().decode(batch.payload);
  assert.equal(text, `{"thing":"dev-1","seq":[1,3],"samples":[[1,null,20],[2,${T0 + 60_000},20.25],[3,${T0 + 120_000},20.5]],"dropped":0,"fw":"0.2.0"}`);
  assert.deepEqual({ first: batch.first, last: batch.last, count: batch.count, dropped: batch.dropped }, { first: 1, last: 3, count: 3, dropped: 0 });
  assert.equal(buildBatch(TelemetryQueue.open(smallFlash()), { thing: 'x', fw: '1' }), undefined, 'nothing to send');
});

test('batches stay within the byte bound and, cursor after cursor, cover every seq once', () => {
  const flash = new SimFlash({ byteLength: 16 * 1024, blockSize: 1024 });
  const queue = filled(400, flash);
  for (const maxBytes of [300, 1000, 4096]) {
    const seen: number[] = [];
    let cursor;
    for (;;) {
      const batch = buildBatch(queue, { thing: 'thing-with-a-longer-name', fw: '1.0.0', maxBytes }, cursor);
      if (!batch) break;
      assert.ok(batch.payload.length <= maxBytes, `${batch.payload.length} > ${maxBytes}`);
      const json = JSON.parse(new TextDecoder().decode(batch.payload));
      assert.deepEqual(json.seq, [batch.first, batch.last]);
      for (const [seq] of json.samples) seen.push(seq);
      if (maxBytes === 4096) assert.ok(batch.payload.length > 4096 - 60 || batch.last === 400, 'a full batch uses the room');
      cursor = batch.cursor;
    }
    assert.deepEqual(seen, Array.from({ length: 400 }, (_, i) => i + 1), `maxBytes ${maxBytes}`);
  }
  assert.throws(() => buildBatch(queue, { thing: 't', fw: '1', maxBytes: AWS_MAX_PAYLOAD + 1 }), RangeError);
  assert.throws(() => buildBatch(queue, { thing: 't', fw: '1', maxBytes: 60 }), RangeError);
});

test('the smallest bound accepted holds the longest possible sample', () => {
  assert.equal(JSON.stringify([2 ** 32 - 1, 2 ** 48 - 1, -1.2345678901234567e-308]).length, 53);
  const queue = TelemetryQueue.open(smallFlash());
  queue.append(encodeSample({ t: 2 ** 48 - 1, v: -1.2345678901234567e-308 }));
  const envelope = '{"thing":"t","seq":[0000000000,0000000000],"samples":[],"dropped":0000000000,"fw":"1"}'.length;
  assert.throws(() => buildBatch(queue, { thing: 't', fw: '1', maxBytes: envelope + 52 }), RangeError);
  assert.equal(buildBatch(queue, { thing: 't', fw: '1', maxBytes: envelope + 53 })!.count, 1);
});

test('records that are not samples are skipped but covered by the seq range, so they are consumed', () => {
  const queue = filled(2);
  queue.append(Uint8Array.of(9, 9, 9));
  queue.append(encodeSample({ t: null, v: 1 }));
  const batch = buildBatch(queue, { thing: 't', fw: '1' })!;
  assert.deepEqual([batch.first, batch.last, batch.count, batch.skipped], [1, 4, 3, 1]);
  queue.consume(batch.last, batch.droppedTotal);
  assert.equal(queue.stats.records, 0);
});

test('dropped samples are reported once per batch in flight and cleared by the PUBACK consume', () => {
  const flash = new SimFlash({ byteLength: 4 * 1024, blockSize: 1024 });
  const queue = filled(250, flash);
  const dropped = queue.stats.droppedTotal;
  assert.ok(dropped > 0);
  const first = buildBatch(queue, { thing: 't', fw: '1', maxBytes: 400 })!;
  assert.equal(first.dropped, dropped);
  assert.equal(JSON.parse(new TextDecoder().decode(first.payload)).dropped, dropped);
  const second = buildBatch(queue, { thing: 't', fw: '1', maxBytes: 400 }, first.cursor)!;
  assert.equal(second.dropped, 0, 'the batch in flight already reports them');
  assert.equal(second.first, first.last + 1);
  queue.consume(first.last, first.droppedTotal);
  queue.consume(second.last, second.droppedTotal);
  const reopened = TelemetryQueue.open(flash);
  assert.equal(reopened.stats.dropped, 0);
  assert.equal(buildBatch(reopened, { thing: 't', fw: '1' })!.dropped, 0);
});

test('a batch is due when the oldest unsent sample is old enough, or a batch is full', () => {
  const queue = TelemetryQueue.open(new SimFlash({ byteLength: 16 * 1024, blockSize: 1024 }));
  assert.equal(batchDue(queue, { wallMs: T0, waitedMs: 1e9 }), false, 'nothing to send');
  queue.append(encodeSample({ t: T0, v: 1 }));
  assert.equal(batchDue(queue, { wallMs: T0 + 14 * 60_000, waitedMs: 1e9 }), false, 'wall-clock age wins when known');
  assert.equal(batchDue(queue, { wallMs: T0 + 15 * 60_000, waitedMs: 0 }), true);
  queue.consume(1);
  queue.append(encodeSample({ t: null, v: 1 }));
  assert.equal(batchDue(queue, { wallMs: T0, waitedMs: 60_000 }), false, 'no timestamp: the caller-measured wait');
  assert.equal(batchDue(queue, { wallMs: T0, waitedMs: 60_000 }, { maxAgeMs: 60_000 }), true);
  queue.consume(2);
  queue.append(encodeSample({ t: T0 + 10 * 365 * 86_400_000, v: 1 }));
  assert.equal(batchDue(queue, { wallMs: T0, waitedMs: 60_000 }, { maxAgeMs: 60_000 }), true, 'a timestamp ahead of the clock (taken while the clock lied) has no age: the caller-measured wait');
  assert.equal(batchDue(queue, { wallMs: T0, waitedMs: 0 }, { maxAgeMs: 60_000 }), false);
  for (let i = 0; i < 200; i++) queue.append(encodeSample({ t: null, v: i }));
  assert.equal(batchDue(queue, { wallMs: undefined, waitedMs: 0 }), true, 'a full batch goes at once');
  const cursor = { seq: queue.nextId - 1, droppedTotal: 0 };
  assert.equal(batchDue(queue, { wallMs: undefined, waitedMs: 1e9 }, {}, cursor), false, 'everything is in flight');
});

test('the telemetry topic is checked against the broker profile when the configuration is read', () => {
  assert.equal(resolveConfig({ thing: 'dev-1' }).topic, 'dt/fieldlink/dev-1/telemetry');
  assert.equal(resolveConfig({ thing: 'b', topic: 'dt/a/site-3/{thing}/env' }).topic, 'dt/a/site-3/b/env');
  assert.throws(() => resolveConfig({ thing: 'x'.repeat(120), topic: 'dt/{thing}/{thing}/{thing}' }), /config\.topic .*256/);
  assert.throws(() => resolveConfig({ thing: 'x'.repeat(250) }), /config\.thing .*client id is 250 bytes; aws allows at most 128/);
  assert.throws(() => resolveConfig({ topic: 'a/b/c/d/e/f/g/h/{thing}' }), /config\.topic .*slashes/);
  assert.throws(() => resolveConfig({ thing: '+' }), /config\.topic .*\+ or #/);
  assert.throws(() => resolveConfig({ topic: '$aws/things/{thing}/x' }), /config\.topic .*reserves/);
  assert.equal(resolveConfig({ profile: 'generic', topic: 'a/b/c/d/e/f/g/h/i' }).topic, 'a/b/c/d/e/f/g/h/i');
});
