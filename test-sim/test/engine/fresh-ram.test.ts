/**
 * A boot in the XS engine is a fresh machine: module state, the global object
 * and the built-ins hold nothing from the boot before (built-ins are frozen,
 * as Moddable's linker leaves them on the device); RTC memory and flash are
 * all that carry over, through deep sleep as on the chip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import { freshRam, type FreshRamReport } from '../../apps/fresh-ram';
import type { App } from '../../../hal/types';

const app = { module: 'test-sim/apps/fresh-ram.ts', exportName: 'freshRam', fn: freshRam as App };

test('in XS nothing of a boot survives a deep sleep but RTC memory and flash', async () => {
  const { events, summary } = await runSimulation({
    engine: 'xs', app, seed: 1, scenario: parseScenario({ duration: '1m', config: { boots: 4 } }, 'fresh-ram'),
  });
  const probes = events.filter((e) => e.event === 'fresh-ram.probe').map((e) => e.fields as unknown as FreshRamReport);
  assert.equal(summary.boots, 4);
  assert.deepEqual(probes, [1, 2, 3, 4].map((n) => ({
    moduleBoots: 1, globalBoots: 1, builtins: 'frozen', builtinLeak: false, retainedBoots: n, flashBoots: n,
  })));
});

test('a power cut loses RTC memory too; flash stays', async () => {
  const { events } = await runSimulation({
    engine: 'xs', app, seed: 1,
    scenario: parseScenario({ duration: '1m', config: { boots: 3 }, faults: [{ at: '30s', kind: 'power-cut', for: '1s' }] }, 'fresh-ram-cut'),
  });
  const probes = events.filter((e) => e.event === 'fresh-ram.probe').map((e) => e.fields as unknown as FreshRamReport);
  assert.deepEqual(probes.map((p) => [p.retainedBoots, p.flashBoots]), [[1, 1], [2, 2], [3, 3], [1, 4], [2, 5], [3, 6]],
    'RTC memory started again after the cut; flash kept counting');
  assert.ok(probes.every((p) => p.moduleBoots === 1 && p.globalBoots === 1 && !p.builtinLeak));
});

test('a reset loses RAM but keeps RTC memory; the firmware sees boot reason reset', async () => {
  const { events } = await runSimulation({
    engine: 'xs', app, seed: 1,
    scenario: parseScenario({ duration: '1m', config: { boots: 4 }, faults: [{ at: '2s', kind: 'reset' }] }, 'fresh-ram-reset'),
  });
  const boots = events.filter((e) => e.event === 'device.boot').map((e) => e.fields?.reason);
  const probes = events.filter((e) => e.event === 'fresh-ram.probe').map((e) => e.fields as unknown as FreshRamReport);
  // Boots at 0, 1.27 s (wake), then the reset at 2 s cuts the second sleep short.
  assert.deepEqual(boots, ['power-on', 'deep-sleep', 'reset', 'deep-sleep']);
  assert.deepEqual(probes.map((p) => [p.retainedBoots, p.flashBoots, p.moduleBoots, p.globalBoots]), [[1, 1, 1, 1], [2, 2, 1, 1], [3, 3, 1, 1], [4, 4, 1, 1]]);
});
