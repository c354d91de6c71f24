// Whatever the flash holds (random bytes, a real queue with bits cleared or
// blocks destroyed, copied or forged with valid checksums), open() does not
// throw, reads each block at most twice, and gives a usable queue: ids rise, stats agree
// with what peek returns, reopening gives the same queue, and an append
// survives a reopen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFlash } from '../../flash/flash';
import { crc32 } from '../../../firmware/telemetry/crc32';
import { QueueError, TelemetryQueue } from '../../../firmware/telemetry/queue';
import { Rng, diffImages, imageOf, makeWorkload, runWorkload } from '../../apps/telemetry-workload';

const BLOCK = 512;
const BLOCKS = 6;

/**
 * `strict`: the content came from this queue (possibly damaged), so an append
 * must survive a reopen and consuming everything with the count must leave
 * nothing to report. Forged content (checkpoints with valid checksums whose
 * counters contradict the headers) need not be consistent with itself: open
 * skips blocks whose records the headers already declare consumed, so a forged
 * checkpoint in such a block may be seen by one open and not another. Then
 * only no exception and a self-consistent queue are required.
 */
function exercise(flash: SimFlash, label: string, strict = true): void {
  const failures: string[] = [];
  let reads = 0;
  const read = flash.read.bind(flash);
  flash.read = (offset, length) => {
    reads += length;
    return read(offset, length);
  };
  const queue = TelemetryQueue.open(flash);
  assert.ok(reads <= BLOCKS * (28 + 2 * BLOCK), `${label}: open read ${reads} bytes`);
  flash.read = read;
  const image = imageOf(queue, failures);
  assert.deepEqual(failures, [], label);
  assert.equal(diffImages(imageOf(TelemetryQueue.open(flash)), image), undefined, `${label}: reopen`);
  const result = queue.append(Uint8Array.of(0xab, 0xcd));
  if (result instanceof QueueError) {
    assert.equal(result.kind, 'ids-exhausted', label);
    return;
  }
  assert.ok(result.id > (image.ids[image.ids.length - 1] ?? 0), `${label}: new id above every id`);
  const after = imageOf(TelemetryQueue.open(flash), failures);
  assert.deepEqual(failures, [], label);
  if (strict) assert.equal(after.ids[after.ids.length - 1], result.id, `${label}: the append survives a reopen`);
  queue.consume(result.id, queue.stats.droppedTotal);
  const empty = TelemetryQueue.open(flash);
  imageOf(empty, failures);
  assert.deepEqual(failures, [], label);
  if (!strict) return;
  assert.equal(empty.stats.records, 0, `${label}: consume all`);
  assert.equal(empty.stats.dropped, 0, `${label}: drops acknowledged`);
}

function realImage(seed: number): SimFlash {
  const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const ops = makeWorkload(seed, { ops: 150, maxPayload: 50, consumePercent: 5, reopenPercent: 0 });
  runWorkload(flash, ops, { writeCount: () => flash.writes });
  return flash;
}

function header(view: DataView, at: number, fields: number[]): void {
  fields.forEach((value, i) => view.setUint32(at + 4 * i, value >>> 0, true));
  view.setUint32(at + 24, crc32(new Uint8Array(view.buffer, at, 24)), true);
}

test('random bytes in every block: open never throws and the queue stays usable', () => {
  const rng = new Rng(0xf1a5);
  for (let round = 0; round < 300; round++) {
    const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
    for (let i = 0; i < flash.bytes.length; i++) flash.bytes[i] = rng.below(256);
    // Some blocks erased, or random only at the start, like a half-written region.
    for (let b = 0; b < BLOCKS; b++) if (rng.chance(30)) flash.bytes.fill(0xff, b * BLOCK + rng.below(BLOCK), (b + 1) * BLOCK);
    exercise(flash, `random round ${round}`);
  }
});

test('a real queue damaged (bits cleared, bytes overwritten, blocks erased or copied): open never throws', () => {
  const rng = new Rng(0xdead);
  for (let round = 0; round < 300; round++) {
    const flash = realImage(round);
    const damage = rng.below(5);
    const n = 1 + rng.below(8);
    for (let j = 0; j < n; j++) {
      const at = rng.below(flash.bytes.length);
      if (damage === 0) flash.bytes[at] &= ~(1 << rng.below(8));
      else if (damage === 1) flash.bytes.fill(rng.below(256), at, Math.min(flash.bytes.length, at + rng.below(40)));
      else if (damage === 2) flash.bytes.fill(0xff, at - (at % BLOCK), at - (at % BLOCK) + BLOCK);
      else if (damage === 3) flash.bytes.copyWithin(at - (at % BLOCK), rng.below(BLOCKS) * BLOCK, rng.below(BLOCKS) * BLOCK + BLOCK);
      else flash.bytes.fill(0, at, Math.min(flash.bytes.length, at + rng.below(8)));
    }
    exercise(flash, `damage ${damage} round ${round}`);
  }
});

test('forged block headers and records with valid checksums: open never throws', () => {
  const rng = new Rng(0xf0f0);
  const pick = () => [0, 1, 2, 100, 0x7fffffff, 0xfffffffe, 0xffffffff][rng.below(7)] + (rng.chance(50) ? rng.below(3) : 0);
  for (let round = 0; round < 300; round++) {
    const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
    const view = new DataView(flash.bytes.buffer);
    for (let b = 0; b < BLOCKS; b++) {
      if (rng.chance(20)) continue;
      const base = b * BLOCK;
      header(view, base, [0x31515446, pick(), pick(), pick(), pick(), pick()]);
      let p = base + 28;
      while (p + 40 < base + BLOCK && rng.chance(85)) {
        const checkpoint = rng.chance(25);
        const length = checkpoint ? 12 : rng.below(24);
        flash.bytes[p] = checkpoint ? 0xc3 : 0xd5;
        flash.bytes[p + 1] = 1;
        view.setUint16(p + 2, length, true);
        view.setUint32(p + 4, pick(), true);
        for (let i = 0; i < length; i++) view.setUint8(p + 12 + i, checkpoint ? (rng.chance(50) ? 0xff : rng.below(256)) : rng.below(256));
        view.setUint32(p + 8, crc32(flash.bytes, p + 12, p + 12 + length, crc32(flash.bytes, p, p + 8)), true);
        p += (12 + length + 3) & ~3;
      }
    }
    exercise(flash, `forged round ${round}`, false);
  }
});

test('open is bounded: 64 KB of random bytes is read at most twice over (work counted, not timed)', () => {
  const rng = new Rng(7);
  let bytesRead = 0;
  class CountingFlash extends SimFlash {
    override read(offset: number, length: number): Uint8Array {
      bytesRead += length;
      return super.read(offset, length);
    }
  }
  const flash = new CountingFlash({ byteLength: 64 * 1024, blockSize: 4096 });
  for (let i = 0; i < flash.bytes.length; i++) flash.bytes[i] = rng.below(256);
  TelemetryQueue.open(flash);
  assert.ok(bytesRead <= 2 * flash.byteLength, `open read ${bytesRead} bytes of a ${flash.byteLength}-byte region`);
});
