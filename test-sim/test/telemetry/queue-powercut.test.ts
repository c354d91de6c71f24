// Power cut at every write point: for scripted workloads (appends, consumes,
// reopens, overflow) on small regions, tear every flash write k with several
// `keep` lengths, then reopen and require a state the workload actually passed
// through (no complete record lost, none duplicated, drops counted), the same
// state on a second reopen, and the rest of the workload running correctly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PowerCut, SimFlash } from '../../flash/flash';
import { Rng, checkRecovery, makeWorkload, opOfWrite, runWorkload, type Op, type RunOptions, type WorkloadShape } from '../../apps/telemetry-workload';

interface Case {
  name: string;
  seed: number;
  byteLength: number;
  blockSize: number;
  shape: WorkloadShape;
  /** Operations run and checked after each recovery (default: the rest of the workload). */
  continueOps?: number;
}

const CASES: Case[] = [
  { name: '4 blocks of 256 B', seed: 1, byteLength: 1024, blockSize: 256, shape: { ops: 160, maxPayload: 40, consumePercent: 8, reopenPercent: 5 } },
  { name: '2 blocks of 256 B (no room but the spare)', seed: 2, byteLength: 512, blockSize: 256, shape: { ops: 90, maxPayload: 30, consumePercent: 10, reopenPercent: 5 } },
  { name: '3 blocks of 512 B, large payloads', seed: 3, byteLength: 1536, blockSize: 512, shape: { ops: 120, maxPayload: 200, consumePercent: 20, reopenPercent: 5 } },
  { name: '3 ESP32 blocks of 4 KB, the XS test workload', seed: 0x7e1e, byteLength: 3 * 4096, blockSize: 4096, shape: { ops: 120, maxPayload: 1200, consumePercent: 10, reopenPercent: 5 }, continueOps: 30 },
];

function options(flash: SimFlash): RunOptions {
  return { writeCount: () => flash.writes };
}

function keeps(length: number): number[] {
  return [...new Set([0, 1, Math.floor(length / 2), length - 1, length])].filter((k) => k >= 0 && k <= length);
}

for (const c of CASES) {
  test(`power cut at every flash write (${c.name}): recovery keeps every complete record and counts every drop`, (t) => {
    const ops: Op[] = makeWorkload(c.seed, c.shape);
    const clean = new SimFlash({ byteLength: c.byteLength, blockSize: c.blockSize });
    const sizes: number[] = [];
    const write = clean.write.bind(clean);
    clean.write = (offset, data) => {
      sizes.push(data.length);
      write(offset, data);
    };
    const run = runWorkload(clean, ops, { ...options(clean), reopenEach: true });
    assert.deepEqual(run.failures, []);
    assert.ok(run.dropped > 0, 'the workload overflows the region');
    const total = run.writes[ops.length];
    let cuts = 0;
    const matched: Record<string, number> = {};
    for (let k = 1; k <= total; k++) {
      for (const keep of keeps(sizes[k - 1])) {
        const flash = new SimFlash({ byteLength: c.byteLength, blockSize: c.blockSize });
        flash.armTear(k, keep);
        assert.throws(() => runWorkload(flash, ops, options(flash)), PowerCut, `write ${k} keep ${keep}: no power cut`);
        const report = checkRecovery(flash, ops, run, k, keep, sizes[k - 1], options(flash), c.continueOps);
        assert.deepEqual(report.failures, [], `write ${k} keep ${keep}`);
        matched[report.matched] = (matched[report.matched] ?? 0) + 1;
        cuts++;
      }
    }
    t.diagnostic(`${total} writes, ${cuts} cuts, ${run.dropped} records dropped by overflow; recovered state: ${JSON.stringify(matched)}`);
  });
}

test('a second power cut while the device carries on after the first: recovery holds again', (t) => {
  let pairs = 0;
  for (const c of CASES.slice(0, 2)) {
    const ops = makeWorkload(c.seed, c.shape);
    const clean = new SimFlash({ byteLength: c.byteLength, blockSize: c.blockSize });
    const run = runWorkload(clean, ops, options(clean));
    const total = run.writes[ops.length];
    const rng = new Rng(c.seed * 7919);
    for (let n = 0; n < 120; n++) {
      const flash = new SimFlash({ byteLength: c.byteLength, blockSize: c.blockSize });
      const k1 = 1 + rng.below(total - 1);
      flash.armTear(k1, rng.below(40));
      assert.throws(() => runWorkload(flash, ops, options(flash)), PowerCut);
      const m = opOfWrite(run.writes, k1);
      // What the rest of the workload does from the recovered state, uncut.
      const copy = new SimFlash({ byteLength: c.byteLength, blockSize: c.blockSize });
      copy.bytes.set(flash.bytes);
      const sizes: number[] = [];
      const write = copy.write.bind(copy);
      copy.write = (offset, data) => {
        sizes.push(data.length);
        write(offset, data);
      };
      const rest = runWorkload(copy, ops, options(copy), m + 1);
      assert.deepEqual(rest.failures, []);
      const writes = rest.writes[ops.length];
      if (writes < 1) continue;
      const k2 = 1 + rng.below(writes);
      const keep2 = [0, 1, sizes[k2 - 1] >> 1, sizes[k2 - 1] - 1][rng.below(4)];
      flash.armTear(k2, keep2);
      assert.throws(() => runWorkload(flash, ops, options(flash), m + 1), PowerCut);
      const report = checkRecovery(flash, ops, rest, k2, keep2, sizes[k2 - 1], options(flash));
      assert.deepEqual(report.failures, [], `${c.name}: writes ${k1} then ${k2} keep ${keep2}`);
      pairs++;
    }
  }
  t.diagnostic(`${pairs} double cuts`);
});
