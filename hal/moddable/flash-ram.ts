/**
 * A RAM region with NOR flash semantics, the same as hal/types `Flash`: erase
 * sets a block to 0xFF, write can only clear bits. Pure; the Moddable simulator
 * uses it as its flash, and ESP32 falls back to it when the partition is missing.
 */
import type { Flash } from '../types';

export function createRamFlash(byteLength: number, blockSize: number): Flash {
  if (!(blockSize > 0) || byteLength % blockSize !== 0) {
    throw new RangeError(`flash: ${byteLength} bytes is not a whole number of ${blockSize}-byte blocks`);
  }
  const cells = new Uint8Array(byteLength).fill(0xff);
  const check = (offset: number, length: number): void => {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > byteLength) {
      throw new RangeError(`flash: ${offset}+${length} is outside 0..${byteLength}`);
    }
  };
  return {
    byteLength,
    blockSize,
    read(offset, length) {
      check(offset, length);
      return cells.slice(offset, offset + length);
    },
    write(offset, bytes) {
      check(offset, bytes.length);
      for (let i = 0; i < bytes.length; i++) cells[offset + i] &= bytes[i];
    },
    erase(block) {
      check(block * blockSize, blockSize);
      cells.fill(0xff, block * blockSize, (block + 1) * blockSize);
    },
  };
}
