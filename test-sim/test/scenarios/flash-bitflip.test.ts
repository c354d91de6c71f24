import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario } from './run';

test('flash bit flips during an outage: no sample silently lost, at most one record per flip, ids never reused', async () => {
  const { summary, on } = await scenario('flash-bitflip');
  const flips = on('device.flash-bitflip');
  assert.equal(flips.length, 12);
  assert.equal(summary.samples_lost, 0, 'every sample delivered, still queued, or counted as dropped');
  assert.ok(summary.samples_dropped <= flips.length, `${summary.samples_dropped} dropped for ${flips.length} flips`);
  assert.ok((summary.dropped_reported ?? 0) >= summary.samples_dropped - summary.samples_pending, 'drops reach the broker in batches');
  const nextSeqs = on('app.boot').map((e) => Number(e.fields!.nextSeq));
  nextSeqs.slice(1).forEach((n, i) => assert.ok(n >= nextSeqs[i], `boot ${i + 1}: next seq ${n} after ${nextSeqs[i]}: an id would be reused`));
  assert.ok(summary.samples_delivered! >= summary.samples_generated - summary.samples_dropped - summary.samples_pending);
});
