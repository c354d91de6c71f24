// The durable queue's contract on SimFlash: round trips, bounds, ids that rise
// for the life of the region, exact overflow accounting, and writes only when
// something changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFlash } from '../../flash/flash';
import { crc32 } from '../../../firmware/telemetry/crc32';
import { BLOCK_HEADER_SIZE, QueueError, RECORD_HEADER_SIZE, TelemetryQueue } from '../../../firmware/telemetry/queue';
import { imageOf, makeWorkload, runWorkload, diffImages } from '../../apps/telemetry-workload';

const bytes = (...values: number[]) => Uint8Array.from(values);
const flash64k = () => new SimFlash({ byteLength: 64 * 1024, blockSize: 4096 });

test('crc32 gives the IEEE check value and continues across calls', () => {
  const data = new TextEncoder().encode('123456789');
  assert.equal(crc32(data), 0xcbf43926);
  assert.equal(crc32(data, 4, 9, crc32(data, 0, 4)), 0xcbf43926);
  // Every byte value through every table entry, against the bit-at-a-time definition.
  const all = Uint8Array.from({ length: 512 }, (_, i) => (i * 167) & 0xff);
  let c = 0xffffffff;
  for (const byte of all) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  assert.equal(crc32(all), ~c >>> 0);
});

test('an erased region opens empty, ids start at 1, and open writes nothing', () => {
  const flash = flash64k();
  const queue = TelemetryQueue.open(flash);
  assert.equal(queue.nextId, 1);
  assert.equal(queue.floor, 0);
  assert.deepEqual(queue.peek(), []);
  assert.equal(queue.stats.records, 0);
  assert.equal(queue.stats.capacityBytes, 15 * (4096 - BLOCK_HEADER_SIZE));
  assert.equal(flash.writes + flash.erases, 0);
});

test('append, peek and consume round-trip payloads in order, across reopen', () => {
  const flash = flash64k();
  const queue = TelemetryQueue.open(flash);
  const payloads = [bytes(), bytes(1), bytes(0xff, 0xff), bytes(0, 1, 2, 3, 4, 5, 6)];
  assert.deepEqual(payloads.map((p) => queue.append(p)), [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
  for (const q of [queue, TelemetryQueue.open(flash)]) {
    assert.deepEqual(q.peek(), payloads.map((payload, i) => ({ id: i + 1, payload })));
    assert.deepEqual(q.peek({ maxRecords: 2 }).map((r) => r.id), [1, 2]);
    assert.deepEqual(q.peek({ after: 2 }).map((r) => r.id), [3, 4]);
    assert.deepEqual(q.peek({ maxBytes: 1 }).map((r) => r.id), [1, 2], 'bytes bound counts payloads; an empty first record fits');
    assert.deepEqual(q.peek({ after: 3, maxBytes: 1 }).map((r) => r.id), [4], 'the first record comes even when larger than the bound');
  }
  queue.consume(2);
  assert.deepEqual(queue.peek().map((r) => r.id), [3, 4]);
  assert.equal(queue.stats.records, 2);
  const reopened = TelemetryQueue.open(flash);
  assert.deepEqual(reopened.peek().map((r) => r.id), [3, 4]);
  assert.equal(reopened.floor, 2);
  assert.deepEqual(reopened.append(bytes(9)), { id: 5 });
});

test('consume writes one checkpoint, and nothing when nothing changes', () => {
  const flash = flash64k();
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < 5; i++) queue.append(bytes(i));
  const before = flash.writes;
  queue.consume(3);
  assert.equal(flash.writes, before + 1);
  queue.consume(3);
  queue.consume(2);
  queue.consume(0, 0);
  assert.equal(flash.writes, before + 1, 'no write for a floor that does not move');
  queue.consume(1_000_000);
  assert.equal(queue.floor, 5, 'consume clamps to the last id appended');
  assert.equal(TelemetryQueue.open(flash).nextId, 6, 'a consume past the end never burns ids');
  assert.throws(() => queue.consume(-1), RangeError);
});

test('a payload that cannot fit a block is refused with a typed error; the largest that fits is kept', () => {
  const flash = new SimFlash({ byteLength: 4 * 512, blockSize: 512 });
  const queue = TelemetryQueue.open(flash);
  const max = 512 - BLOCK_HEADER_SIZE - 20 - RECORD_HEADER_SIZE; // room for a time note after the header
  assert.equal(queue.maxPayload, max);
  const refused = queue.append(new Uint8Array(max + 1));
  assert.ok(refused instanceof QueueError && refused.kind === 'too-large');
  assert.deepEqual(queue.append(new Uint8Array(max).fill(7)), { id: 1 });
  assert.deepEqual(queue.append(new Uint8Array(max).fill(8)), { id: 2 });
  assert.deepEqual(TelemetryQueue.open(flash).peek().map((r) => r.payload[0]), [7, 8]);
  assert.throws(() => queue.append([1, 2] as unknown as Uint8Array), TypeError);
});

test('ids keep rising after every record is consumed and every block has been reused', () => {
  const flash = new SimFlash({ byteLength: 3 * 256, blockSize: 256 });
  let queue = TelemetryQueue.open(flash);
  for (let i = 1; i <= 500; i++) {
    assert.deepEqual(queue.append(bytes(i & 0xff, i >> 8)), { id: i });
    if (i % 7 === 0) queue.consume(i);
    if (i % 50 === 0) queue = TelemetryQueue.open(flash);
  }
  queue.consume(500);
  assert.ok(flash.erases > 20, `blocks were reused (${flash.erases} erases)`);
  const reopened = TelemetryQueue.open(flash);
  assert.equal(reopened.stats.records, 0);
  assert.equal(reopened.nextId, 501);
  assert.equal(reopened.stats.dropped, 0, 'consumed in time: nothing dropped');
});

test('overflow drops the oldest records, counts them exactly, and reports them until acknowledged', () => {
  const flash = flash64k();
  const queue = TelemetryQueue.open(flash);
  const payload = new Uint8Array(15).fill(0x5a);
  let appended = 0;
  while (queue.stats.droppedTotal === 0) {
    queue.append(payload);
    appended++;
  }
  for (let i = 0; i < 1000; i++) {
    queue.append(payload);
    appended++;
  }
  const stats = queue.stats;
  const ids = queue.peek({ maxRecords: 10_000, maxBytes: 1 << 20 }).map((r) => r.id);
  assert.equal(stats.records, ids.length);
  assert.equal(stats.droppedTotal + ids.length, appended, 'every record is either queued or counted as dropped');
  assert.equal(ids[0], stats.droppedTotal + 1, 'the oldest went first');
  assert.equal(ids[ids.length - 1], appended, 'the newest are kept');
  assert.ok(stats.bytes <= stats.capacityBytes);
  assert.ok(stats.records >= 14 * 145, `at least 14 blocks of samples are kept (${stats.records})`);
  assert.equal(stats.dropped, stats.droppedTotal);

  // Reported in a batch whose PUBACK came: consume acknowledges the count.
  const reported = stats.droppedTotal;
  queue.consume(ids[10]);
  assert.equal(TelemetryQueue.open(flash).stats.dropped, reported, 'a consume without the count leaves it to report');
  queue.consume(ids[20], reported);
  for (let i = 0; i < 300; i++) queue.append(payload);
  const after = TelemetryQueue.open(flash).stats;
  assert.equal(after.dropped, after.droppedTotal - reported, 'only drops after the report remain to report');
  assert.ok(after.droppedTotal > reported);
});

test('reopening after every operation of a workload gives the same queue', () => {
  const flash = new SimFlash({ byteLength: 8 * 512, blockSize: 512 });
  const ops = makeWorkload(11, { ops: 600, maxPayload: 60, consumePercent: 2, reopenPercent: 3 });
  const run = runWorkload(flash, ops, { writeCount: () => flash.writes, reopenEach: true });
  assert.deepEqual(run.failures, []);
  assert.ok(run.dropped > 0);
});

test('a region is a block range of the flash: the queue never touches blocks outside it', () => {
  const flash = new SimFlash({ byteLength: 8 * 256, blockSize: 256 });
  flash.bytes.fill(0x11, 0, 256);
  flash.bytes.fill(0x22, 5 * 256);
  const queue = TelemetryQueue.open(flash, { firstBlock: 1, blockCount: 4 });
  for (let i = 0; i < 200; i++) queue.append(new Uint8Array(20).fill(i));
  assert.ok(flash.bytes.subarray(0, 256).every((b) => b === 0x11));
  assert.ok(flash.bytes.subarray(5 * 256).every((b) => b === 0x22));
  const again = TelemetryQueue.open(flash, { firstBlock: 1, blockCount: 4 });
  assert.equal(diffImages(imageOf(again), imageOf(queue)), undefined);
  assert.throws(() => TelemetryQueue.open(flash, { firstBlock: 7, blockCount: 2 }), RangeError);
  assert.throws(() => TelemetryQueue.open(flash, { blockCount: 1 }), RangeError);
});
