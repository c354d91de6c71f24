/** tools/moddable/backlog: the simulated device's flash with a full queue, as the firmware's own queue reads it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBacklog } from '../../../tools/moddable/backlog';
import { createRamFlash } from '../../../hal/moddable/flash-ram';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { decodeSample } from '../../../firmware/telemetry/record';

test('the backlog is the firmware queue nearly full: every sample there, in order, and a few more still fit without a drop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldlink-backlog-'));
  try {
    const end = Date.UTC(2026, 0, 1);
    const count = writeBacklog(dir, end);
    const file = join(dir, 'flash-storage.bin');
    assert.equal(statSync(file).size, 64 * 1024);
    const flash = createRamFlash(64 * 1024, 4096);
    flash.write(0, new Uint8Array(readFileSync(file)));
    const queue = TelemetryQueue.open(flash);
    assert.equal(queue.stats.records, count);
    assert.ok(count > 2000, `${count} samples`);
    let seen = 0;
    let last = 0;
    for (let batch = queue.peek({ maxRecords: 500, maxBytes: 1 << 20 }); batch.length; batch = queue.peek({ after: last, maxRecords: 500, maxBytes: 1 << 20 })) {
      for (const record of batch) {
        const sample = decodeSample(record.payload);
        assert.ok(sample && sample.t !== null && sample.t <= end);
        last = record.id;
        seen++;
      }
    }
    assert.equal(seen, count);
    for (let i = 0; i < 8; i++) queue.append(new Uint8Array(15));
    assert.equal(queue.stats.dropped, 0, 'room for the wake\'s own samples');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
