/**
 * A simulated week with random outages, Wi-Fi loss and power cuts against the
 * real local endpoint (aedes): every sample generated is delivered (or still
 * queued at the end), in order, duplicates bounded, nothing dropped.
 * Runs under the Node engine (10,000 boots in XS would take minutes); the XS
 * engine runs the same firmware in the duty-cycle test beside this one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { outageTrace } from '../../scenarios/trace';

const WEEK = 7 * 24 * 3_600_000;

test('a week of outages, Wi-Fi loss and power cuts: no sample lost, in order, duplicates bounded', async () => {
  const faults = outageTrace({ durationMs: WEEK, seed: 21, powerCuts: true });
  let order: number[] = [];
  const { summary } = await runSimulation({
    engine: 'node',
    seed: 21,
    scenario: { name: 'week', description: '', durationMs: WEEK, devices: 1, bootSpreadMs: 0, config: {}, faults },
    beforeTeardown: async (_d, world) => {
      order = world.deliveries!.seqs.get('sim-thing-1') ?? [];
    },
  });
  assert.ok(faults.filter((f) => f.kind === 'power-cut').length >= 2);
  assert.ok(summary.samples_generated >= 10_000 - 200, `${summary.samples_generated} samples in a week`);
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.samples_dropped, 0);
  assert.equal(summary.dropped_reported, 0);
  assert.equal(summary.samples_delivered! + summary.samples_pending, summary.samples_generated);
  const firsts: number[] = [];
  const seen = new Set<number>();
  for (const seq of order) if (!seen.has(seq)) { seen.add(seq); firsts.push(seq); }
  assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), 'first arrivals are in sequence order');
  assert.ok(summary.duplicates! <= summary.samples_generated * 0.05, `${summary.duplicates} duplicates`);
  assert.equal(summary.crashes, 0);
});
