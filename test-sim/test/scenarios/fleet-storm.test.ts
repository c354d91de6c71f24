import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFleet } from '../../fleet';
import { loadScenario } from '../../scenarios/scenario';

test('fleet storm: after a 30-minute outage, full jitter keeps peak connects a small fraction of the no-jitter spike', async () => {
  const scenario = loadScenario('fleet-outage');
  scenario.devices = 200;
  const r = await runFleet(scenario, 2);
  assert.equal(r.baseline_peak_connects_per_s, 200, 'without jitter the whole fleet reconnects in the same second');
  assert.ok(r.peak_connects_per_s <= r.baseline_peak_connects_per_s * 0.05, `peak ${r.peak_connects_per_s}/s vs ${r.baseline_peak_connects_per_s}/s`);
  assert.ok(r.recovery_s !== null && r.recovery_s <= 330, `every device back within one capped backoff step (${r.recovery_s} s)`);
  assert.equal(r.connects_per_s.reduce((a, b) => a + b, 0) >= 200, true, 'every device made at least one attempt after the return');
});
