import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import { buildBundle } from '../../engine/bundle';
import { XsEngine } from '../../engine/xs';
import { message, Op } from '../../../hal/sim/wire';

const day = parseScenario({ duration: '2h' }, 'two-hours');

test('the xs engine runs the firmware inside xsnap, not Node', async () => {
  const { summary } = await runSimulation({ engine: 'xs', scenario: day, seed: 1 });
  const firmware = summary.firmware as { engine: string };
  assert.equal(summary.engine, 'xs');
  assert.equal(firmware.engine, 'xs', 'the firmware saw XS-only globals (issueCommand, harden) and no process');
  assert.ok(summary.xs_compute > 0, 'xsnap metered the deliveries');
});

test('the node engine runs the same firmware to the same state and the same event log, to the millisecond', async () => {
  const xs = await runSimulation({ engine: 'xs', scenario: day, seed: 1 });
  const node = await runSimulation({ engine: 'node', scenario: day, seed: 1 });
  assert.equal((node.summary.firmware as { engine: string }).engine, 'node');
  assert.equal(node.summary.xs_compute, 0);
  assert.deepEqual((node.summary.firmware as { app: unknown }).app, (xs.summary.firmware as { app: unknown }).app);
  assert.equal(node.summary.events_sha256, xs.summary.events_sha256);
});

test('an exception in the firmware comes back as a FirmwareError from the worker', async () => {
  const bundle = await buildBundle();
  const engine = await XsEngine.start(`${bundle.code}\nglobalThis.handleCommand = () => { throw new TypeError('boom'); };`, {
    handle: () => new Uint8Array(6),
  });
  await assert.rejects(engine.deliver(message(Op.Inspect, 0, 0).bytes), (error: Error) => error.name === 'FirmwareError' && /boom/.test(error.message));
  await engine.stop();
});
