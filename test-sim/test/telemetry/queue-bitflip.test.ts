// Flipped bits on a real queue's flash (either direction, anywhere: block
// headers, record headers, payloads, checkpoints, erased space): no id is ever
// issued twice, every record that cannot be read back is counted as dropped,
// and only records a flip touched are lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFlash } from '../../flash/flash';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { Rng, imageOf, makeWorkload, runWorkload } from '../../apps/telemetry-workload';

const BLOCK = 512;
const BLOCKS = 6;

type Region = { kind: 'header' } | { kind: 'record'; id: number } | { kind: 'checkpoint' } | { kind: 'padding' } | { kind: 'erased' };

/** What each byte of an undamaged region is, from the queue's documented layout. */
function layout(bytes: Uint8Array): Region[] {
  const map: Region[] = new Array(bytes.length).fill({ kind: 'erased' });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let b = 0; b < BLOCKS; b++) {
    const base = b * BLOCK;
    if (view.getUint32(base, true) !== 0x31515446) continue;
    for (let i = 0; i < 28; i++) map[base + i] = { kind: 'header' };
    let p = base + 28;
    while (p + 12 <= base + BLOCK && bytes[p] !== 0xff) {
      const length = view.getUint16(p + 2, true);
      const region: Region = bytes[p] === 0xd5 ? { kind: 'record', id: view.getUint32(p + 4, true) } : { kind: 'checkpoint' };
      for (let i = 0; i < 12 + length; i++) map[p + i] = region;
      const size = (12 + length + 3) & ~3;
      for (let i = 12 + length; i < size; i++) map[p + i] = { kind: 'padding' };
      p += size;
    }
  }
  return map;
}

test('random bit flips: no id reused, no silent loss, loss bounded by the records the flips touched', (t) => {
  const rng = new Rng(0xb17f);
  let lostTotal = 0;
  let salvagedHeaders = 0;
  for (let round = 0; round < 400; round++) {
    const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
    runWorkload(flash, makeWorkload(round, { ops: 120, maxPayload: 40, consumePercent: 6, reopenPercent: 0 }), { writeCount: () => flash.writes });
    const before = imageOf(TelemetryQueue.open(flash));
    const map = layout(flash.bytes);
    const flips = 1 + rng.below(3);
    const touched = new Set<number>();
    let countersTouched = false;
    for (let f = 0; f < flips; f++) {
      const at = rng.below(flash.bytes.length);
      flash.bytes[at] ^= 1 << rng.below(8);
      const region = map[at];
      if (region.kind === 'record') touched.add(region.id);
      if (region.kind === 'header' || region.kind === 'checkpoint') countersTouched = true;
      if (region.kind === 'header') salvagedHeaders++;
    }
    const label = `round ${round}, ${flips} flips, touched ${[...touched].join(',')}`;
    const queue = TelemetryQueue.open(flash);
    const after = imageOf(queue);
    // No id reused: the next id is past every id issued before the flips.
    assert.ok(after.nextId >= before.nextId, `${label}: next id ${after.nextId} < ${before.nextId}`);
    // What was pending and readable comes back intact; what does not come back was touched.
    const back = new Map(after.ids.map((id, i) => [id, after.payloads[i]]));
    const missing = before.ids.filter((id) => !back.has(id));
    for (const id of missing) assert.ok(touched.has(id), `${label}: record ${id} lost but no flip touched it`);
    before.ids.forEach((id, i) => {
      if (back.has(id)) assert.deepEqual(back.get(id), before.payloads[i], `${label}: record ${id} changed`);
    });
    // Not silent: every lost pending record is counted as dropped (unless a flip also erased the counters themselves).
    if (!countersTouched) assert.ok(after.droppedTotal - before.droppedTotal >= missing.length, `${label}: ${missing.length} lost, ${after.droppedTotal - before.droppedTotal} counted`);
    else assert.ok(after.droppedTotal >= missing.length, label);
    lostTotal += missing.length;
    // The queue carries on: a new id above all, and acknowledging everything reports every drop.
    const added = queue.append(Uint8Array.of(1, 2, 3));
    assert.ok(!(added instanceof Error) && added.id >= before.nextId, `${label}: append`);
    queue.consume(added.id, queue.stats.droppedTotal);
    const reopened = TelemetryQueue.open(flash);
    assert.equal(reopened.stats.records, 0, label);
    assert.equal(reopened.stats.dropped, 0, `${label}: drops reported and acknowledged`);
    assert.ok(reopened.nextId > added.id, `${label}: no reuse after reopen`);
  }
  t.diagnostic(`${lostTotal} records lost over 400 rounds; ${salvagedHeaders} flips hit a block header`);
});

test('a flipped bit in the header of the block holding the newest records loses nothing and reissues no id', () => {
  const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < 34; i++) queue.append(Uint8Array.of(i, i, i, i, i, i, i, i, i, i));
  queue.consume(10);
  const before = imageOf(queue);
  const newest = Math.floor(layout(flash.bytes).findIndex((r) => r.kind === 'record' && r.id === 34) / BLOCK);
  flash.bytes[newest * BLOCK + 9] ^= 0x10; // inside the first-id field
  const after = imageOf(TelemetryQueue.open(flash));
  assert.deepEqual(after.ids, before.ids);
  assert.equal(after.nextId, before.nextId);
  assert.equal(after.droppedTotal, 0);
});

test('a flipped bit in a middle record loses that record only, counted, and the reader resynchronises after it', () => {
  const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < 12; i++) queue.append(Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7));
  const map = layout(flash.bytes);
  const at = map.findIndex((r) => r.kind === 'record' && r.id === 5);
  flash.bytes[at + 14] ^= 0x01; // a payload byte of record 5
  const after = imageOf(TelemetryQueue.open(flash));
  assert.deepEqual(after.ids, [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(after.droppedTotal, 1);
  assert.equal(after.nextId, 13);
});

test('a complete newest record with a bad CRC keeps its id issued (lost, counted); a torn one gives it back', () => {
  const flipped = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const queue = TelemetryQueue.open(flipped);
  for (let i = 0; i < 6; i++) queue.append(Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7));
  const at = layout(flipped.bytes).findIndex((r) => r.kind === 'record' && r.id === 6);
  flipped.bytes[at + 13] ^= 0x40;
  const after = TelemetryQueue.open(flipped);
  assert.equal(after.nextId, 7, 'id 6 was issued: never again');
  assert.equal(after.stats.droppedTotal, 1);
  const torn = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const q2 = TelemetryQueue.open(torn);
  for (let i = 0; i < 6; i++) q2.append(Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7));
  const at2 = layout(torn.bytes).findIndex((r) => r.kind === 'record' && r.id === 6);
  torn.bytes.fill(0xff, at2 + 16, at2 + 20); // the write stopped before its last bytes
  const again = TelemetryQueue.open(torn);
  assert.equal(again.nextId, 6, 'a torn append never happened: its id goes to the next one');
  assert.equal(again.stats.droppedTotal, 0);
});

test('a record that goes bad while the device runs is found by the reader and counted', () => {
  const flash = new SimFlash({ byteLength: BLOCK * BLOCKS, blockSize: BLOCK });
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < 8; i++) queue.append(Uint8Array.of(i, 9, 9, 9));
  const at = layout(flash.bytes).findIndex((r) => r.kind === 'record' && r.id === 3);
  flash.bytes[at + 12] ^= 0x80;
  assert.deepEqual(queue.peek().map((r) => r.id), [1, 2, 4, 5, 6, 7, 8]);
  assert.equal(queue.stats.droppedTotal, 1);
  assert.equal(queue.stats.records, 7);
});
