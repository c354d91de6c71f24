import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFleet } from '../../fleet';
import { loadScenario } from '../../scenarios/scenario';

const MINUTE = 60_000;

test('fleet storm: after a 30-minute outage, full jitter keeps peak connects a small fraction of the no-jitter spike', async () => {
  // The built-in scenario's 30-minute outage, moved to 3 minutes after power-on (the fleet boots within 1 minute) and
  // followed by 7 minutes, longer than the 330 s recovery bound: the minutes before and after it only cost time.
  const scenario = loadScenario('fleet-outage');
  scenario.devices = 200;
  const outage = scenario.faults.find((f) => f.kind === 'broker-down')!;
  assert.equal(outage.forMs, 30 * MINUTE);
  outage.atMs = 3 * MINUTE;
  scenario.durationMs = outage.atMs + outage.forMs + 7 * MINUTE;
  const r = await runFleet(scenario, 2);
  assert.equal(r.baseline_peak_connects_per_s, 200, 'without jitter the whole fleet reconnects in the same second');
  assert.ok(r.peak_connects_per_s <= r.baseline_peak_connects_per_s * 0.05, `peak ${r.peak_connects_per_s}/s vs ${r.baseline_peak_connects_per_s}/s`);
  assert.ok(r.recovery_s !== null && r.recovery_s <= 330, `every device back within one capped backoff step (${r.recovery_s} s)`);
  assert.equal(r.connects_per_s.reduce((a, b) => a + b, 0) >= 200, true, 'every device made at least one attempt after the return');
});
