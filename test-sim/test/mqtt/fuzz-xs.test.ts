// The decoder fuzz run inside the real XS engine (test-sim/apps/mqtt-fuzz.ts):
// nothing escapes, memory stays within maxPacketSize, and the per-kind error
// counts, packet counts and decoded-packet digest equal the same run under Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { App } from '../../../hal/types';
import { runSimulation, type SimResult } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import type { EngineName } from '../../engine/types';
import { mqttFuzz, type FuzzReport } from '../../apps/mqtt-fuzz';

const FRAMES = 20_000;
const SEED = 0x78736d71; // "xsmq"
const MAX_PACKET_SIZE = 1024;

const scenario = parseScenario(
  { description: 'decoder fuzz', duration: '10m', config: { seed: SEED, frames: FRAMES, maxPacketSize: MAX_PACKET_SIZE, framesPerSlice: 1000 } },
  'mqtt-fuzz',
);

function run(engine: EngineName): Promise<SimResult> {
  return runSimulation({ engine, scenario, seed: 1, app: { module: 'test-sim/apps/mqtt-fuzz.ts', exportName: 'mqttFuzz', fn: mqttFuzz as App } });
}

function reportOf(result: SimResult): FuzzReport {
  const firmware = result.summary.firmware as { engine: string; app: FuzzReport };
  return firmware.app;
}

test(`${FRAMES.toLocaleString('en')} fuzz frames through the decoder in XS match the same run under Node`, async (t) => {
  const started = performance.now();
  const xs = await run('xs');
  const xsMs = performance.now() - started;
  const node = await run('node');

  assert.equal(xs.summary.engine, 'xs');
  assert.equal((xs.summary.firmware as { engine: string }).engine, 'xs', 'the app saw XS-only globals, not Node');
  assert.ok(xs.summary.xs_compute > 0, 'xsnap metered the deliveries');
  assert.equal((node.summary.firmware as { engine: string }).engine, 'node');
  for (const result of [xs, node]) assert.equal(result.summary.crashes, 0, `${result.summary.engine} crashed`);

  const x = reportOf(xs);
  const n = reportOf(node);
  t.diagnostic(`XS: ${x.frames} frames, ${x.pushes} pushes, ${x.packets} packets in ${x.slices} slices, ${xs.summary.xs_compute} compute, ${Math.round(xsMs)} ms`);
  t.diagnostic(`errors: ${Object.entries(x.errors).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);

  assert.equal(x.done, true);
  assert.equal(x.frames, FRAMES);
  assert.equal(x.exceptions, 0, `an exception escaped push: ${x.firstException}`);
  assert.equal(x.capacity, MAX_PACKET_SIZE - 2);
  assert.ok(x.maxBuffered <= x.capacity, `buffered ${x.maxBuffered} > capacity ${x.capacity}`);
  assert.ok(x.maxBuffered > 0, 'some packet spanned pushes');
  assert.equal(x.invalidPackets, 0);
  assert.ok(x.roundTrips.checked > 0);
  assert.equal(x.roundTrips.failed, 0);
  assert.ok(x.packets > 0);
  for (const kind of ['packet-too-large', 'unknown-packet-type', 'bad-flags', 'bad-length', 'bad-utf8', 'bad-topic']) {
    assert.ok((x.errors[kind] ?? 0) > 0, `the XS run never reached ${kind}`);
  }

  // The fidelity check: XS and Node decode the same stream the same way.
  assert.deepEqual(x.errors, n.errors);
  assert.deepEqual(x, n);
});
