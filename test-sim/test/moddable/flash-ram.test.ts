/** hal/moddable/flash-ram: the simulator's flash keeps NOR semantics (erase to 0xFF, writes only clear bits). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRamFlash } from '../../../hal/moddable/flash-ram';

test('a fresh region reads as erased', () => {
  const flash = createRamFlash(2 * 4096, 4096);
  assert.equal(flash.byteLength, 8192);
  assert.equal(flash.blockSize, 4096);
  assert.deepEqual([...flash.read(4090, 8)], new Array(8).fill(0xff));
});

test('write ANDs into the cells; erase restores one block only', () => {
  const flash = createRamFlash(2 * 4096, 4096);
  flash.write(10, Uint8Array.of(0xf0, 0x0f));
  flash.write(10, Uint8Array.of(0x3c, 0xff));
  assert.deepEqual([...flash.read(10, 2)], [0x30, 0x0f]);
  flash.write(4096, Uint8Array.of(0));
  flash.erase(0);
  assert.deepEqual([...flash.read(10, 2)], [0xff, 0xff]);
  assert.equal(flash.read(4096, 1)[0], 0);
});

test('out-of-range access throws (misuse), reads return copies', () => {
  const flash = createRamFlash(4096, 4096);
  assert.throws(() => flash.read(4095, 2), RangeError);
  assert.throws(() => flash.write(-1, Uint8Array.of(0)), RangeError);
  assert.throws(() => flash.erase(1), RangeError);
  const copy = flash.read(0, 1);
  copy[0] = 0;
  assert.equal(flash.read(0, 1)[0], 0xff);
});
