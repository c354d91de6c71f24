/**
 * `hal/moddable/storage` on the Moddable simulator: Moddable has no `flash`
 * module for mac, lin or win, so every partition is a RAM region (64 KB of
 * 4 KB blocks) with NOR semantics. It is empty at every start of mcsim, like a
 * freshly erased partition; an emulated deep sleep keeps it.
 */
import type * as Storage from './storage';
import type { Flash } from '../types';
import { createRamFlash } from './flash-ram';

/** Created at run time: a Map made while preloading would be frozen into flash. */
let regions: Map<string, Flash> | undefined;

export const openVolatileFlash: typeof Storage.openVolatileFlash = (byteLength, blockSize) => createRamFlash(byteLength, blockSize);

export const openFlash: typeof Storage.openFlash = (partition) => {
  regions ??= new Map();
  let region = regions.get(partition);
  if (!region) {
    region = createRamFlash(16 * 4096, 4096);
    regions.set(partition, region);
  }
  return region;
};
