// A seeded subset of the power-cut test inside the real XS engine: the host
// tears flash write k (test-sim/flash/flash.ts), the DeviceHost reboots the
// device as after a power cut, and the firmware-side harness
// (test-sim/apps/telemetry-powercut.ts) checks the recovered queue. The same
// cut replayed under Node on SimFlash must recover the same queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { App } from '../../../hal/types';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import { PowerCut, SimFlash } from '../../flash/flash';
import type { World } from '../../net/world';
import { telemetryPowerCut, type PowerCutReport } from '../../apps/telemetry-powercut';
import { Rng, checkRecovery, makeWorkload, runWorkload, type RunOptions } from '../../apps/telemetry-workload';

const SHAPE = { seed: 0x7e1e, ops: 120, maxPayload: 1200, consumePercent: 10, reopenPercent: 5, blocks: 3, continueOps: 30 };
const CUTS = 12;

/** No network: this app never connects. */
const offline = async (): Promise<World> => ({
  endpointName: 'offline.invalid',
  resolve: () => undefined,
  credentials: {},
  deviceConfig: {},
  close: async () => {},
});

function geometry(): SimFlash {
  return new SimFlash({ byteLength: 64 * 1024, blockSize: 4096 });
}

/** The same cut under Node: SimFlash torn at write k, then the same checks. */
function nodeReport(k: number, keep: number) {
  const ops = makeWorkload(SHAPE.seed, SHAPE);
  const region = { firstBlock: 0, blockCount: SHAPE.blocks };
  const clean = geometry();
  const sizes: number[] = [];
  const write = clean.write.bind(clean);
  clean.write = (offset, data) => {
    sizes.push(data.length);
    write(offset, data);
  };
  const run = runWorkload(clean, ops, { region, writeCount: () => clean.writes });
  const flash = geometry();
  const options: RunOptions = { region, writeCount: () => flash.writes };
  flash.armTear(k, keep);
  assert.throws(() => runWorkload(flash, ops, options), PowerCut);
  return { run, sizes, report: checkRecovery(flash, ops, run, k, keep, sizes[k - 1], options, SHAPE.continueOps) };
}

test(`power cuts at ${CUTS} seeded flash writes inside XS: the device reboots and recovers the queue Node recovers`, async (t) => {
  const { run, sizes } = nodeReport(1, 0);
  assert.deepEqual(run.failures, []);
  assert.ok(run.dropped > 0, 'the workload overflows the region');
  const total = run.writes[run.writes.length - 1];
  const rng = new Rng(SHAPE.seed);
  const cuts: [number, number][] = [[1, 0], [total, sizes[total - 1] - 1]];
  while (cuts.length < CUTS) {
    const k = 1 + rng.below(total);
    const length = sizes[k - 1];
    cuts.push([k, [0, 1, length >> 1, length - 1, length][rng.below(5)]]);
  }
  const started = performance.now();
  const matched: Record<string, number> = {};
  for (const [k, keep] of cuts) {
    const scenario = parseScenario({ description: 'queue power cut', duration: '1m', config: { ...SHAPE, k, keep } }, 'telemetry-powercut');
    const result = await runSimulation({
      engine: 'xs',
      scenario,
      seed: 1,
      world: offline,
      app: { module: 'test-sim/apps/telemetry-powercut.ts', exportName: 'telemetryPowerCut', fn: telemetryPowerCut as App },
      // The harness's marker is write 1; the workload's write k is write k + 1.
      beforeRun: (_scheduler, devices) => devices[0].flash.armTear(k + 1, keep),
    });
    const firmware = result.summary.firmware as { engine: string; app: PowerCutReport };
    const xs = firmware.app;
    const cutsSeen = result.events.filter((e) => e.event === 'device.power-cut').length;
    assert.equal(firmware.engine, 'xs');
    assert.equal(cutsSeen, 1, `write ${k}: one power cut`);
    assert.equal(result.summary.boots, 2, `write ${k}: the device booted again`);
    assert.equal(xs.phase, 'verified', `write ${k} keep ${keep}: ${xs.failures.join('; ')}`);
    assert.deepEqual(xs.failures, [], `write ${k} keep ${keep}`);
    assert.equal(xs.writes, total, 'XS replays the same workload as Node');
    assert.equal(xs.length, sizes[k - 1]);
    const node = nodeReport(k, keep).report;
    assert.deepEqual(node.failures, []);
    assert.deepEqual([xs.matched, xs.digest, xs.records], [node.matched, node.digest, node.records], `write ${k} keep ${keep}: XS and Node recover the same queue`);
    matched[xs.matched] = (matched[xs.matched] ?? 0) + 1;
  }
  t.diagnostic(`${cuts.length} cuts of ${total} writes in ${Math.round(performance.now() - started)} ms; recovered state: ${JSON.stringify(matched)}`);
});
