// Flash wear at the default settings: one sample a minute, an upload (one
// batch, one consume) every 15 minutes, on the 64 KB region of 4 KB blocks the
// simulator gives a device. Estimate: a synced sample is a 28-byte record and
// a consume a 24-byte checkpoint, so a day writes 1440 x 28 + 96 x 24 = 42,624
// bytes = 10.48 blocks of 4,068 usable bytes: 1,440 + 96 + 10.5 = 1,546.5
// writes and 10.5 erases a day, 0.655 erases per block per day with
// round-robin reuse (100,000 rated cycles last about 418 years).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFlash } from '../../flash/flash';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { encodeSample } from '../../../firmware/telemetry/record';
import { buildBatch } from '../../../firmware/telemetry/batch';

const DAYS = 30;
const T0 = Date.UTC(2026, 0, 1);

function measure(options: { rebootEachSample: boolean; outageMinutes?: [number, number]; days?: number }) {
  const days = options.days ?? DAYS;
  const flash = new SimFlash({ byteLength: 64 * 1024, blockSize: 4096 });
  const erasesPerBlock = new Array(16).fill(0);
  const erase = flash.erase.bind(flash);
  flash.erase = (block) => {
    erasesPerBlock[block]++;
    erase(block);
  };
  let queue = TelemetryQueue.open(flash);
  let warm = { writes: 0, erases: 0, day: 0 };
  for (let minute = 1; minute <= days * 1440; minute++) {
    if (options.rebootEachSample) queue = TelemetryQueue.open(flash);
    queue.append(encodeSample({ t: T0 + minute * 60_000, v: 21 + (minute % 100) / 100 }));
    const offline = options.outageMinutes && minute >= options.outageMinutes[0] && minute < options.outageMinutes[1];
    if (minute % 15 === 0 && !offline) {
      for (let batch = buildBatch(queue, { thing: 'dev', fw: '1' }); batch; batch = buildBatch(queue, { thing: 'dev', fw: '1' })) {
        queue.consume(batch.last, batch.droppedTotal);
      }
    }
    // Measure from day 2: by then every block has been used once, so erases are at their steady rate.
    if (minute === 2 * 1440) warm = { writes: flash.writes, erases: flash.erases, day: 2 };
  }
  return {
    writesPerDay: (flash.writes - warm.writes) / (days - warm.day),
    erasesPerDay: (flash.erases - warm.erases) / (days - warm.day),
    bytesPerDay: flash.bytesWritten / days,
    erasesPerBlock,
    queue: TelemetryQueue.open(flash).stats,
    flash,
  };
}

test('flash writes and erases per day at the defaults match the estimate, spread evenly over the blocks', (t) => {
  const m = measure({ rebootEachSample: false });
  t.diagnostic(`writes/day ${m.writesPerDay.toFixed(1)}, erases/day ${m.erasesPerDay.toFixed(2)} ` +
    `(${(m.erasesPerDay / 16).toFixed(3)} per block), bytes/day ${Math.round(m.bytesPerDay)}, erases per block over ${DAYS} days: ${m.erasesPerBlock.join(' ')}`);
  assert.ok(Math.abs(m.writesPerDay - 1546.5) < 2, `writes/day ${m.writesPerDay}`);
  assert.ok(Math.abs(m.erasesPerDay - 10.48) < 0.2, `erases/day ${m.erasesPerDay}`);
  assert.ok(Math.max(...m.erasesPerBlock) - Math.min(...m.erasesPerBlock) <= 1, 'round-robin wear');
  assert.equal(m.queue.records, 0);
  assert.equal(m.queue.droppedTotal, 0);
});

test('booting for every sample (deep sleep between samples) writes no more', () => {
  const m = measure({ rebootEachSample: true, days: 3 });
  assert.ok(Math.abs(m.writesPerDay - 1546.5) < 2, `writes/day ${m.writesPerDay}`);
});

test('a 2-day outage overflows the 36-hour queue: drops are counted, then reported and acknowledged', (t) => {
  const m = measure({ rebootEachSample: false, outageMinutes: [3 * 1440, 5 * 1440] });
  t.diagnostic(`capacity ${m.queue.capacityBytes} bytes = ${Math.floor(m.queue.capacityBytes / 28)} samples; dropped ${m.queue.droppedTotal} of ${2 * 1440} during the outage`);
  assert.ok(m.queue.droppedTotal > 0 && m.queue.droppedTotal < 2 * 1440);
  assert.equal(m.queue.dropped, 0, 'the drops were reported and acknowledged after the outage');
  assert.equal(m.queue.records, 0);
});

test('a boot after power loss reads the block headers and only the blocks that can hold unsent samples', (t) => {
  const { flash } = measure({ rebootEachSample: false, days: 3 });
  let bytes = 0;
  const read = flash.read.bind(flash);
  flash.read = (offset, length) => {
    bytes += length;
    return read(offset, length);
  };
  const queue = TelemetryQueue.open(flash);
  t.diagnostic(`open read ${bytes} bytes of 65,536`);
  assert.ok(bytes <= 16 * 28 + 3 * 4096, `open read ${bytes} bytes`);
  assert.equal(queue.nextId, 3 * 1440 + 1);
});
