/**
 * The device's own failures (issue 13): a deep sleep that cannot be entered
 * restarts the chip, a reset keeps RTC memory, a power cut does not; through
 * all of them the firmware loses no sample and reuses no sequence number.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';

test('deep sleep that fails restarts the device (boot reason reset) and nothing is lost or sent twice', async () => {
  const faults = ['20m', '47m', '61m', '75m', '90m'].map((at) => ({ at, kind: 'sleep-fail' }));
  const { summary, events } = await runSimulation({
    engine: 'node', seed: 2, scenario: parseScenario({ duration: '2h', faults }, 'sleep-fail'),
  });
  const failed = events.filter((e) => e.event === 'device.sleep-failed');
  assert.equal(failed.length, faults.length, 'each armed failure hit the next deep-sleep entry');
  for (const f of failed) {
    const next = events.find((e) => e.event === 'device.boot' && e.t > f.t)!;
    assert.equal(next.fields?.reason, 'reset', 'the chip restarted instead of sleeping');
    assert.ok(next.t - f.t < 1000, 'at once, not after the sleep it asked for');
  }
  assert.equal(summary.crashes, 0);
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.duplicates, 0);
  assert.equal(summary.samples_delivered! + summary.samples_pending, summary.samples_generated, 'every sample taken is delivered or still queued');
  const seqs = events.filter((e) => e.event === 'app.boot').map((e) => Number(e.fields?.nextSeq));
  assert.ok(seqs.every((s, i) => i === 0 || s >= seqs[i - 1]), 'sequence numbers never go back');
});

test('resets and power cuts in a duty-cycled hour: every sample delivered or queued, none twice', async () => {
  const faults = [
    { at: '10m', kind: 'reset' }, { at: '25m', kind: 'power-cut', for: '30s' }, { at: '40m', kind: 'reset' },
  ];
  const { summary, events } = await runSimulation({
    engine: 'node', seed: 3, scenario: parseScenario({ duration: '1h', faults }, 'resets'),
  });
  const reasons = events.filter((e) => e.event === 'device.boot').map((e) => e.fields?.reason);
  assert.equal(reasons.filter((r) => r === 'reset').length, 2);
  assert.equal(reasons.filter((r) => r === 'power-on').length, 2, 'the first boot and the one after the cut');
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.duplicates, 0);
  assert.equal(summary.samples_delivered! + summary.samples_pending, summary.samples_generated);
});
