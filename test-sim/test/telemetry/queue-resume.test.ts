// The deep-sleep fast path: a snapshot of the queue's RAM state kept in RTC
// memory lets open() skip the flash scan, but only while it still describes
// the flash; a stale or damaged snapshot falls back to the scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFlash } from '../../flash/flash';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { Rng, diffImages, imageOf, makeWorkload, type Op } from '../../apps/telemetry-workload';

const BLOCK = 256;
const BLOCKS = 5;

function applyOp(queue: TelemetryQueue, op: Op): TelemetryQueue {
  if (op.kind === 'append') queue.append(op.payload);
  else if (op.kind === 'consume') queue.consume(Math.max(queue.floor, queue.nextId - 1 - op.lag), op.ackDrops ? queue.stats.droppedTotal : undefined);
  return queue;
}

test('a fresh snapshot resumes without scanning and gives the queue a scan gives', () => {
  const ops = makeWorkload(5, { ops: 300, maxPayload: 40, consumePercent: 6, reopenPercent: 0 });
  const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  let queue = TelemetryQueue.open(flash);
  let resumed = 0;
  for (const op of ops) {
    applyOp(queue, op);
    // Deep sleep after every operation: RTC memory keeps the snapshot.
    const snapshot = queue.snapshot();
    let reads = 0;
    const read = flash.read.bind(flash);
    flash.read = (offset, length) => {
      reads += length;
      return read(offset, length);
    };
    const woke = TelemetryQueue.open(flash, { resume: snapshot });
    flash.read = read;
    assert.ok(woke.resumed);
    assert.ok(reads <= BLOCKS * 28 + 12, `resume read ${reads} bytes`);
    const scanned = TelemetryQueue.open(flash);
    assert.equal(scanned.resumed, false);
    assert.equal(diffImages(imageOf(woke), imageOf(scanned)), undefined);
    assert.deepEqual({ ...woke.stats, maxBytes: 0 }, { ...scanned.stats, maxBytes: 0 });
    queue = woke;
    resumed++;
  }
  assert.ok(queue.stats.droppedTotal > 0, 'the run overflowed');
  assert.equal(resumed, ops.length);
});

test('a snapshot taken before later writes is refused and the scan is used', () => {
  const ops = makeWorkload(6, { ops: 160, maxPayload: 40, consumePercent: 8, reopenPercent: 0 });
  const rng = new Rng(6);
  let refused = 0;
  for (let n = 0; n < 150; n++) {
    const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
    const at = rng.below(ops.length);
    const until = at + 1 + rng.below(ops.length - at);
    let queue = TelemetryQueue.open(flash);
    let snapshot = queue.snapshot();
    let writesAtSnapshot = 0;
    for (let i = 0; i < until; i++) {
      if (i === at) {
        snapshot = queue.snapshot();
        writesAtSnapshot = flash.writes + flash.erases;
      }
      queue = applyOp(queue, ops[i]);
    }
    const woke = TelemetryQueue.open(flash, { resume: snapshot });
    const label = `snapshot before op ${at}, woke after op ${until - 1}`;
    assert.equal(woke.resumed, flash.writes + flash.erases === writesAtSnapshot, `${label}: resumed only when nothing was written since`);
    assert.equal(diffImages(imageOf(woke), imageOf(TelemetryQueue.open(flash))), undefined, label);
    if (!woke.resumed) refused++;
  }
  assert.ok(refused > 100, `stale snapshots refused: ${refused} of 150`);
});

test('damaged or foreign snapshots are refused without throwing', () => {
  const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < 30; i++) queue.append(new Uint8Array(i).fill(i));
  const good = queue.snapshot();
  const rng = new Rng(9);
  for (let n = 0; n < 500; n++) {
    const bad = good.slice();
    if (n % 3 === 0) bad[rng.below(bad.length)] ^= 1 << rng.below(8);
    else if (n % 3 === 1) for (let i = 0; i < bad.length; i++) bad[i] = rng.below(256);
    const cut = n % 3 === 2 ? bad.subarray(0, rng.below(bad.length)) : bad;
    const woke = TelemetryQueue.open(flash, { resume: cut });
    assert.equal(woke.resumed, false);
    assert.equal(diffImages(imageOf(woke), imageOf(queue)), undefined);
  }
  const other = TelemetryQueue.open(flash, { blockCount: 4, resume: good });
  assert.equal(other.resumed, false, 'a snapshot of another region');
});

test('a crash keeps RTC memory: a snapshot taken before a torn write never yields a queue the scan would not', () => {
  const ops = makeWorkload(8, { ops: 120, maxPayload: 40, consumePercent: 8, reopenPercent: 0 });
  const rng = new Rng(8);
  for (let n = 0; n < 200; n++) {
    const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
    let queue = TelemetryQueue.open(flash);
    const at = rng.below(ops.length - 1);
    for (let i = 0; i < at; i++) queue = applyOp(queue, ops[i]);
    const snapshot = queue.snapshot();
    flash.armTear(1 + rng.below(3), rng.below(3) === 0 ? 0 : rng.below(48));
    try {
      for (let i = at; i < ops.length; i++) queue = applyOp(queue, ops[i]);
    } catch (error) {
      assert.equal((error as Error).name, 'PowerCut');
    }
    const woke = TelemetryQueue.open(flash, { resume: snapshot });
    assert.equal(diffImages(imageOf(woke), imageOf(TelemetryQueue.open(flash))), undefined, `round ${n}`);
    const next = woke.append(Uint8Array.of(7));
    assert.ok(!('kind' in next));
    assert.equal(imageOf(TelemetryQueue.open(flash)).ids.at(-1), next.id, `round ${n}: append after resume survives`);
  }
});
