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
