import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';

test('a 40-hour broker outage overflows the queue: the oldest samples are dropped, counted, and the count is reported exactly', async () => {
  const { summary } = await runSimulation({
    engine: 'node',
    seed: 9,
    scenario: parseScenario({ duration: '48h', faults: [{ at: '1h', kind: 'broker-down', for: '40h' }] }, 'overflow'),
  });
  assert.ok(summary.samples_dropped > 0, 'the queue overflowed');
  assert.equal(summary.dropped_reported, summary.samples_dropped, 'every dropped sample was reported in a delivered batch');
  assert.equal(summary.samples_lost, 0, 'nothing vanished without being counted');
  assert.equal(summary.samples_delivered! + summary.samples_pending + summary.samples_dropped, summary.samples_generated);
});
