/**
 * `hal/moddable/storage` on the Moddable simulator: Moddable has no `flash`
 * module for mac, lin or win (modules/files/flash/manifest.json lists esp,
 * esp32 and nrf52 only). With mc/config `deviceDir` (npm run build:sim sets
 * it) a partition is a 64 KB file on the host, `<deviceDir>/flash-<name>.bin`,
 * read and written through Moddable's `file` module: the emulated flash stays
 * outside the XS heap (so heap measurements count only the firmware's own
 * memory) and survives quitting mcsim, as flash survives a power cut. Without
 * `deviceDir` it is RAM, empty at every start. NOR semantics either way: erase
 * sets a block to 0xFF, write can only clear bits.
 */
import config from 'mc/config';
import { File } from 'file';
import type * as Storage from './storage';
import type { Flash } from '../types';
import { createRamFlash } from './flash-ram';

const REGION_BYTES = 16 * 4096;
const BLOCK_BYTES = 4096;

/** Created at run time: a Map made while preloading would be frozen into flash. */
let regions: Map<string, Flash> | undefined;

export const openVolatileFlash: typeof Storage.openVolatileFlash = (byteLength, blockSize) => createRamFlash(byteLength, blockSize);

function hostFlash(path: string): Flash {
  const file = new File(path, true);
  if (file.length !== REGION_BYTES) {
    // A new (or foreign-sized) partition: erased, as a fresh flash chip.
    const erased = new Uint8Array(BLOCK_BYTES).fill(0xff);
    file.position = 0;
    for (let offset = 0; offset < REGION_BYTES; offset += BLOCK_BYTES) file.write(erased.buffer);
  }
  const check = (offset: number, length: number): void => {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > REGION_BYTES) {
      throw new RangeError(`flash: ${offset}+${length} is outside 0..${REGION_BYTES}`);
    }
  };
  const read = (offset: number, length: number): Uint8Array => {
    check(offset, length);
    if (!length) return new Uint8Array(0);
    file.position = offset;
    return new Uint8Array(file.read(ArrayBuffer, length));
  };
  return {
    byteLength: REGION_BYTES,
    blockSize: BLOCK_BYTES,
    read,
    write(offset, bytes) {
      check(offset, bytes.length);
      if (!bytes.length) return;
      const cells = read(offset, bytes.length);
      for (let i = 0; i < bytes.length; i++) cells[i] &= bytes[i];
      file.position = offset;
      file.write(cells.buffer);
    },
    erase(block) {
      check(block * BLOCK_BYTES, BLOCK_BYTES);
      file.position = block * BLOCK_BYTES;
      file.write(new Uint8Array(BLOCK_BYTES).fill(0xff).buffer);
    },
  };
}

export const openFlash: typeof Storage.openFlash = (partition) => {
  regions ??= new Map();
  let region = regions.get(partition);
  if (!region) {
    const dir = (config as Record<string, unknown>).deviceDir;
    region = typeof dir === 'string' && dir.length > 0 && /^[A-Za-z0-9_-]+$/.test(partition)
      ? hostFlash(`${dir}/flash-${partition}.bin`)
      : createRamFlash(REGION_BYTES, BLOCK_BYTES);
    regions.set(partition, region);
  }
  return region;
};

/** How the simulator keeps `partition` (for hal.boot's log): `host-file` or `ram`. */
export function flashKind(): 'host-file' | 'ram' {
  const dir = (config as Record<string, unknown>).deviceDir;
  return typeof dir === 'string' && dir.length > 0 ? 'host-file' : 'ram';
}
